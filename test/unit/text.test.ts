import { isStorableText, text, unstorableTextPaths } from '../../policy/text';

describe('the shared text schema', () => {
  it.each([
    ['plain ASCII', 'Igor Pavlov'],
    ['an empty string', ''],
    ['non-Latin letters', 'Übersicht – 日本語'],
    ['a paired surrogate (emoji)', 'rocket \u{1F680}'],
    ['tabs and newlines', 'line one\n\tline two'],
  ])('accepts %s', (_name, value) => {
    expect(isStorableText(value)).toBe(true);
    expect(text().safeParse(value).success).toBe(true);
  });

  it.each([
    ['a NUL byte', 'a\u0000b'],
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate', '\uDC00'],
    ['a reversed pair', '\uDC00\uD800'],
  ])('refuses %s, naming why', (_name, value) => {
    expect(isStorableText(value)).toBe(false);
    const parsed = text().safeParse(value);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/NUL/);
  });

  it('keeps the usual string checks chainable', () => {
    const name = text().trim().min(1).max(5);
    expect(name.safeParse('  abc ').data).toBe('abc');
    expect(name.safeParse('abcdef').success).toBe(false);
    expect(name.safeParse('a\u0000').success).toBe(false);
  });
});

describe('unstorableTextPaths', () => {
  it('names every string, nested value or object key PostgreSQL cannot store', () => {
    expect(
      unstorableTextPaths({
        ok: 'fine 👍',
        nested: { list: ['x', 'a\u0000b'], deep: { lone: '\uD800' } },
        'bad\u0000key': 1,
        count: 3,
        none: null,
      }),
    ).toEqual(['nested.list.1', 'nested.deep.lone', '"bad\\u0000key"']);
  });

  it('answers nothing for storable input, and the empty path for a bare bad string', () => {
    expect(unstorableTextPaths({ a: ['b', { c: 'd' }], e: true })).toEqual([]);
    expect(unstorableTextPaths('\u0000')).toEqual(['']);
  });
});
