/** Keyset pagination: an opaque cursor naming the last row of the previous page. */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API issued');
    this.name = 'InvalidCursorError';
  }
}

/** What each part of a cursor position must be: checked here, so a forged cursor never reaches a query. */
export type CursorPart = 'time' | 'uuid' | 'row-id';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The largest time a JavaScript Date (and so a cursor this API issues) can hold, in ms. */
const MAX_TIME_MS = 8.64e15;

function isPart(value: unknown, part: CursorPart): boolean {
  switch (part) {
    case 'time':
      return Number.isSafeInteger(value) && Math.abs(value as number) <= MAX_TIME_MS;
    case 'row-id':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'uuid':
      return typeof value === 'string' && UUID_PATTERN.test(value);
  }
}

type PartValue<P extends CursorPart> = P extends 'uuid' ? string : number;

/** The position a cursor names, each part checked against `shape`; InvalidCursorError otherwise. */
export function decodeCursor<const S extends readonly CursorPart[]>(
  cursor: string,
  shape: S,
): { [K in keyof S]: PartValue<S[K]> } {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    !Array.isArray(position) ||
    position.length !== shape.length ||
    !shape.every((part, i) => isPart(position[i], part))
  ) {
    throw new InvalidCursorError();
  }
  return position as { [K in keyof S]: PartValue<S[K]> };
}

/** Takes `limit + 1` rows; the extra one only tells whether there is a next page. */
export function toPage<T>(rows: T[], limit: number, position: (row: T) => (string | number)[]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}
