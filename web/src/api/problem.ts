/** A field the API named as wrong (400 and 422 problem documents). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** An answer of the API that is not a success, in the words shown to people. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    /** The problem's slug, e.g. `not-awaiting-cab` (from `https://eucora.dev/problems/<slug>`). */
    readonly type: string,
    message: string,
    readonly fields: readonly FieldProblem[] = [],
    /** Seconds to wait before trying again (Retry-After), when the API said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiProblem';
  }

  /** The message for one field (a JSON path such as `evidence_pack.sbom`), including its sub-fields. */
  fieldMessage(field: string): string | undefined {
    const matching = this.fields.filter((f) => f.field === field || f.field.startsWith(`${field}.`));
    return matching.length === 0 ? undefined : matching.map((f) => f.message).join('; ');
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldsOf(body: Record<string, unknown>): FieldProblem[] {
  const errors = body.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter(isRecord)
    .flatMap((entry) =>
      typeof entry.field === 'string' && typeof entry.message === 'string'
        ? [{ field: entry.field, message: entry.message }]
        : [],
    );
}

/** Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110). */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** "in 1 minute 30 seconds" style wording for a wait. */
export function waitInWords(seconds: number): string {
  if (seconds <= 1) return 'in a moment';
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const parts = [
    ...(minutes > 0 ? [`${String(minutes)} minute${minutes === 1 ? '' : 's'}`] : []),
    ...(rest > 0 ? [`${String(rest)} second${rest === 1 ? '' : 's'}`] : []),
  ];
  return `in ${parts.join(' ')}`;
}

const PLAIN_WORDS: Readonly<Record<number, string>> = {
  400: 'Some of what you entered is not in a form EUCORA accepts.',
  401: 'You are not signed in (or your session ended). Sign in again.',
  403: 'You may not do this.',
  404: 'It does not exist (any more), or you may not see it.',
  409: 'This conflicts with the current state.',
  413: 'What you sent is too large.',
  415: 'The request was not sent as JSON.',
  422: 'Some of what you entered cannot be accepted.',
  503: 'A service EUCORA depends on is not answering right now.',
};

/** Turns an HTTP answer that is not a success into an ApiProblem with words for people. */
export function problemFrom(
  status: number,
  body: unknown,
  retryAfter: string | null,
  now: number,
): ApiProblem {
  const document = isRecord(body) ? body : {};
  const slug = typeof document.type === 'string' ? (document.type.split('/').pop() ?? '') : '';
  const detail = typeof document.detail === 'string' ? document.detail : undefined;
  const wait = retryAfterSeconds(retryAfter, now);
  let message: string;
  if (status === 429) {
    message = `Too many requests. Try again ${waitInWords(wait ?? 60)}.`;
  } else if (status === 403 && slug === 'separation-of-duties') {
    message = `Separation of duties: ${detail ?? 'you may not act on your own submission'}.`;
  } else {
    const base = PLAIN_WORDS[status] ?? `The server answered ${String(status)}.`;
    message = detail === undefined ? base : `${base} ${capitalise(detail)}.`;
    const fields = fieldsOf(document);
    if ((status === 400 || status === 422) && fields.length > 0)
      message += ` ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}.`;
    if (status === 503 && wait !== undefined) message += ` Try again ${waitInWords(wait)}.`;
  }
  return new ApiProblem(status, slug, message.replace(/\.\.$/, '.'), fieldsOf(document), wait);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What to show for anything thrown by an API call: the problem's words, or a network failure. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiProblem) return error.message;
  return 'EUCORA could not be reached. Check your connection and try again.';
}
