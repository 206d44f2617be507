import { sameOriginPath } from '../../policy/return-to';

const ORIGIN = 'https://eucora.contoso.example';

describe('where a person lands after signing in', () => {
  it.each([
    ['/', '/'],
    ['/console/cab?tab=pending#top', '/console/cab?tab=pending#top'],
    ['/console/../api/v1/auth/me', '/api/v1/auth/me'],
    ['/a%2F%2Fb', '/a%2F%2Fb'],
  ])('accepts the path %s', (value, path) => {
    expect(sameOriginPath(value, ORIGIN)).toBe(path);
  });

  it.each([
    ['another origin', 'https://evil.example/'],
    ['the same host on http', 'http://eucora.contoso.example/'],
    ['a scheme-relative URL', '//evil.example/x'],
    ['a backslash', '/\\evil.example'],
    ['a tab inside', '/\t/evil.example'],
    ['a newline inside', '/\n/evil.example'],
    ['a script URL', 'javascript:alert(1)'],
    ['a relative path', 'console'],
    ['an empty string', ''],
    ['something very long', `/${'a'.repeat(2048)}`],
  ])('refuses %s', (_case, value) => {
    expect(sameOriginPath(value, ORIGIN)).toBeUndefined();
  });
});
