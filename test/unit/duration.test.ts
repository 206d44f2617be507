import { parseDuration } from '../../policy/duration';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each<{ case: string; text: string; ms: number }>([
    { case: 'reads days: 7d', text: '7d', ms: 7 * DAY },
    { case: 'reads hours: 12h', text: '12h', ms: 12 * HOUR },
    { case: 'reads minutes: 30m', text: '30m', ms: 30 * MINUTE },
    { case: 'reads seconds: 45s', text: '45s', ms: 45 * SECOND },
    { case: 'reads milliseconds: 250ms', text: '250ms', ms: 250 },
    { case: 'reads 1m as a minute, not a millisecond', text: '1m', ms: MINUTE },
    { case: 'adds up compound durations: 1h30m', text: '1h30m', ms: HOUR + 30 * MINUTE },
    {
      case: 'adds up every unit together: 1d2h3m4s5ms',
      text: '1d2h3m4s5ms',
      ms: DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND + 5,
    },
    { case: 'reads a minute followed by milliseconds: 1m500ms', text: '1m500ms', ms: MINUTE + 500 },
    { case: 'reads zero: 0s', text: '0s', ms: 0 },
    { case: 'reads leading zeros: 007s', text: '007s', ms: 7 * SECOND },
    { case: 'ignores leading and trailing whitespace', text: '  7d \t', ms: 7 * DAY },
    { case: 'ignores a trailing newline', text: '90s\n', ms: 90 * SECOND },
  ])('$case', ({ text, ms }) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each<{ case: string; text: string }>([
    { case: 'rejects the empty string', text: '' },
    { case: 'rejects whitespace only', text: '   ' },
    { case: 'rejects a number without a unit: 7', text: '7' },
    { case: 'rejects a unit without a number: d', text: 'd' },
    { case: 'rejects an unknown unit: 1x', text: '1x' },
    { case: 'rejects a fractional amount: 1.5h', text: '1.5h' },
    { case: 'rejects a negative amount: -1h', text: '-1h' },
    { case: 'rejects an upper-case unit: 7D', text: '7D' },
    { case: 'rejects whitespace between parts: 1h 30m', text: '1h 30m' },
    { case: 'rejects whitespace between number and unit: 7 d', text: '7 d' },
    { case: 'rejects a trailing number without a unit: 1h30', text: '1h30' },
    { case: 'rejects a spelled-out unit: 7days', text: '7days' },
    { case: 'rejects an ISO 8601 duration: PT1H', text: 'PT1H' },
  ])('$case', ({ text }) => {
    expect(() => parseDuration(text)).toThrow(
      `"${text}" is not a duration such as 7d, 12h, 30m, 45s or 250ms`,
    );
  });
});
