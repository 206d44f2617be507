import { canonicalJson } from '../../policy/canonical-json';

describe('canonicalJson', () => {
  it.each<{ case: string; value: unknown; json: string }>([
    { case: 'writes null', value: null, json: 'null' },
    { case: 'writes booleans', value: true, json: 'true' },
    { case: 'writes integers', value: 42, json: '42' },
    { case: 'writes fractions', value: 0.97, json: '0.97' },
    { case: 'writes negative zero as 0', value: -0, json: '0' },
    { case: 'writes a string', value: '7-Zip', json: '"7-Zip"' },
    { case: 'writes an empty object', value: {}, json: '{}' },
    { case: 'writes an empty array', value: [], json: '[]' },
    { case: 'sorts object keys', value: { b: 1, a: 2, c: 3 }, json: '{"a":2,"b":1,"c":3}' },
    {
      case: 'sorts keys by code unit: upper case before underscore before lower case',
      value: { a: 1, _: 2, B: 3 },
      json: '{"B":3,"_":2,"a":1}',
    },
    { case: 'sorts a key before its own extension', value: { ab: 1, a: 2 }, json: '{"a":2,"ab":1}' },
    { case: 'keeps array order', value: [3, 1, 2], json: '[3,1,2]' },
    {
      case: 'sorts keys inside nested objects and arrays',
      value: { z: [{ y: 1, x: [{ q: true, p: null }] }], a: { d: 'd', c: 'c' } },
      json: '{"a":{"c":"c","d":"d"},"z":[{"x":[{"p":null,"q":true}],"y":1}]}',
    },
    { case: 'writes nested arrays', value: [[1, [2, []]], []], json: '[[1,[2,[]]],[]]' },
    { case: 'drops undefined object members', value: { a: 1, b: undefined }, json: '{"a":1}' },
    { case: 'drops undefined members of nested objects', value: { a: { b: undefined } }, json: '{"a":{}}' },
    { case: 'writes undefined array items as null', value: [1, undefined, 2], json: '[1,null,2]' },
    { case: 'keeps null object members', value: { a: null }, json: '{"a":null}' },
    {
      case: 'escapes quotes, backslashes and control characters in strings',
      value: 'say "hi"\\\n\t\u0001',
      json: '"say \\"hi\\"\\\\\\n\\t\\u0001"',
    },
    { case: 'escapes object keys', value: { 'a"b': 1 }, json: '{"a\\"b":1}' },
    { case: 'keeps non-ASCII text as is', value: { name: 'Zürich ✓' }, json: '{"name":"Zürich ✓"}' },
    {
      case: 'sorts a value parsed from JSON text',
      value: JSON.parse('{"b":[1,{"d":2,"c":3}],"a":"x"}') as unknown,
      json: '{"a":"x","b":[1,{"c":3,"d":2}]}',
    },
  ])('$case', ({ value, json }) => {
    expect(canonicalJson(value)).toBe(json);
  });

  it('gives the same text whatever order the keys were inserted in', () => {
    const forward = { artifact_hash: 'a'.repeat(64), signature: { status: 'UNSIGNED', publisher: 'x' } };
    const backward = { signature: { publisher: 'x', status: 'UNSIGNED' }, artifact_hash: 'a'.repeat(64) };
    expect(canonicalJson(backward)).toBe(canonicalJson(forward));
  });

  it('gives text that parses back to the same value', () => {
    const value = { b: [1, 'two', { c: false }], a: { nested: [null, 0.5] } };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it.each<{ case: string; value: unknown }>([
    { case: 'refuses NaN', value: Number.NaN },
    { case: 'refuses Infinity', value: Number.POSITIVE_INFINITY },
    { case: 'refuses -Infinity', value: Number.NEGATIVE_INFINITY },
    { case: 'refuses a non-finite number inside an object', value: { size: Number.POSITIVE_INFINITY } },
    { case: 'refuses a non-finite number inside an array', value: [1, [Number.NaN]] },
  ])('$case', ({ value }) => {
    expect(() => canonicalJson(value)).toThrow(new TypeError('non-finite number'));
  });
});

describe('canonicalJson: values with no JSON form', () => {
  it.each([
    { case: 'undefined', value: undefined },
    { case: 'a function member', value: { a: () => 1 } },
    { case: 'a symbol', value: Symbol('s') },
    { case: 'a bigint', value: 1n },
  ])('refuses $case', ({ value }) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});
