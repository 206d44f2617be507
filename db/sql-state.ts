/**
 * What a PostgreSQL error says about retrying. Data exceptions (SQLSTATE class 22: NUL in text or jsonb,
 * a value out of range, a malformed literal) and the constraint violations below depend only on the
 * values written: the same write fails the same way on every retry.
 */
const PERMANENT_CONSTRAINT_VIOLATIONS = new Set([
  '23502' /* not_null_violation */,
  '23503' /* foreign_key_violation */,
  '23514' /* check_violation */,
]);

export interface PermanentDataError {
  readonly sqlState: string;
  /** PostgreSQL's message: names the problem, never the values (a driver's wrapper may quote them). */
  readonly message: string;
}

/** The permanent data error behind `error` (the driver's, or one a query builder wrapped), if any. */
export function permanentDataError(error: unknown): PermanentDataError | undefined {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    const code: unknown = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const permanent = code.startsWith('22') || PERMANENT_CONSTRAINT_VIOLATIONS.has(code);
      return permanent ? { sqlState: code, message: cause.message } : undefined;
    }
    cause = cause.cause;
  }
  return undefined;
}
