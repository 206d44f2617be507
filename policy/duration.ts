const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const PART = /(\d+)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/;

/** Parses durations such as `7d`, `90s`, `1h30m` or `250ms` into milliseconds. */
export function parseDuration(text: string): number {
  const compact = text.trim();
  if (!WHOLE.test(compact)) {
    throw new Error(`"${text}" is not a duration such as 7d, 12h, 30m, 45s or 250ms`);
  }
  let total = 0;
  for (const match of compact.matchAll(PART)) {
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  }
  return total;
}
