import { z } from 'zod';

/**
 * The one string schema every text from outside goes through (request bodies, query and path values,
 * headers that reach storage or logs). PostgreSQL text and jsonb cannot hold U+0000, and a lone UTF-16
 * surrogate cannot be encoded as UTF-8 (pg would silently store U+FFFD, changing hashed content), so
 * both are refused here, with a 400 naming the field, instead of failing later in a write that an
 * activity would retry forever.
 */

/** Matches a string with no NUL and no unpaired surrogate (with `u`, a paired surrogate is one code point). */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
export const STORABLE_TEXT_PATTERN = /^[^\u0000\uD800-\uDFFF]*$/u;

export const STORABLE_TEXT_MESSAGE = 'must not contain NUL (U+0000) or unpaired UTF-16 surrogates';

/** True when PostgreSQL can store `value` as text or inside jsonb unchanged. */
export function isStorableText(value: string): boolean {
  return STORABLE_TEXT_PATTERN.test(value);
}

/** A string PostgreSQL can store as it is; chain `.trim()`, `.min()`, `.max()`, `.regex()` as needed. */
export function text(): z.ZodString {
  return z.string().regex(STORABLE_TEXT_PATTERN, STORABLE_TEXT_MESSAGE);
}

/**
 * The paths (dot-separated, as field problems name them) of every string in `value`, key or value, that
 * PostgreSQL cannot store: the request boundary refuses them before any schema, so no field a schema
 * forgets, no free-form payload and no object key ever carries NUL inward.
 */
export function unstorableTextPaths(value: unknown, path: readonly string[] = []): string[] {
  if (typeof value === 'string') return isStorableText(value) ? [] : [path.join('.')];
  if (Array.isArray(value))
    return value.flatMap((item, index) => unstorableTextPaths(item, [...path, String(index)]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, member]) =>
    isStorableText(key)
      ? unstorableTextPaths(member, [...path, key])
      : [[...path, JSON.stringify(key)].join('.')],
  );
}

/**
 * A string that must match `pattern` (anchored, with its own message), and be storable. The pattern is
 * the one rule the document shows: zod-to-openapi writes a single `pattern` per string, so `text().regex()`
 * would document only the storable-text rule and a client following the document would be refused.
 */
export function textMatching(pattern: RegExp, message: string): z.ZodString {
  return z.string().regex(pattern, message).refine(isStorableText, STORABLE_TEXT_MESSAGE);
}

/**
 * Matches text with at least one non-blank character (JavaScript's `\s` is exactly what `trim()` removes)
 * and no NUL. Spelled without surrogate ranges so that document generators can build from it; lone
 * surrogates are refused all the same (the refinement below, and the request boundary).
 */
// eslint-disable-next-line no-control-regex -- refusing NUL is the point
export const NON_BLANK_TEXT_PATTERN = /^[^\u0000]*[^\s\u0000][^\u0000]*$/u;

/**
 * Free text that must say something, trimmed once accepted. The document states exactly what is
 * accepted — at most `max` characters as sent, with a non-blank one — where `text().trim().min(1)` let
 * `"\n"` pass the documented `minLength` and then refused it.
 */
export function nonBlankText(max: number): z.ZodString {
  return z
    .string()
    .max(max)
    .regex(NON_BLANK_TEXT_PATTERN, 'must contain a non-blank character')
    .refine(isStorableText, STORABLE_TEXT_MESSAGE)
    .trim();
}
