import type { ProblemError } from '../problem';
import type { Actor } from '../request-context';

declare global {
  namespace Express {
    interface Request {
      /** From a valid `X-Correlation-ID` header, or generated; echoed on the response. Tracing only. */
      requestId: string;
      /** Set by authentication; routes read the caller from here only. */
      actor?: Actor;
      /** Why a presented API key was not accepted; operations that need a caller answer 401 with it. */
      authenticationFailure?: string;
      /**
       * A service principal's token that did not pass (401, or 403 for an unknown directory or app roles):
       * operations that need a caller answer with it, so its one AUTHZ_DENIED names the operation.
       */
      authenticationRefusal?: ProblemError;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    user?: {
      tenantId: string;
      id: string;
      displayName: string;
      roles: string[];
    };
    /**
     * Entra ID sign-ins begun in this browser and not yet completed, by their `state`; each is used once
     * and lives ten minutes.
     */
    signIns?: Record<string, { nonce: string; codeVerifier: string; returnTo: string; startedAt: number }>;
    /** Epoch milliseconds of the sign-in: the absolute timeout counts from here. */
    signedInAt?: number;
  }
}

export {};
