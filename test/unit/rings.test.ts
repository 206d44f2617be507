import { RINGS, lowerRing, ringIndex, ringsThrough } from '../../policy/rings';
import type { Ring } from '../../policy/rings';

describe('RINGS', () => {
  it('lists the rings in promotion order', () => {
    expect(RINGS).toEqual(['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL']);
  });
});

describe('ringIndex', () => {
  it.each<{ case: string; ring: Ring; index: number }>([
    { case: 'puts LAB first', ring: 'LAB', index: 0 },
    { case: 'puts CANARY second', ring: 'CANARY', index: 1 },
    { case: 'puts PILOT third', ring: 'PILOT', index: 2 },
    { case: 'puts DEPARTMENT fourth', ring: 'DEPARTMENT', index: 3 },
    { case: 'puts GLOBAL last', ring: 'GLOBAL', index: 4 },
  ])('$case', ({ ring, index }) => {
    expect(ringIndex(ring)).toBe(index);
  });
});

describe('ringsThrough', () => {
  it.each<{ case: string; last: Ring; rings: Ring[] }>([
    { case: 'gives only LAB through LAB', last: 'LAB', rings: ['LAB'] },
    { case: 'gives LAB and CANARY through CANARY', last: 'CANARY', rings: ['LAB', 'CANARY'] },
    { case: 'gives three rings through PILOT', last: 'PILOT', rings: ['LAB', 'CANARY', 'PILOT'] },
    {
      case: 'gives four rings through DEPARTMENT',
      last: 'DEPARTMENT',
      rings: ['LAB', 'CANARY', 'PILOT', 'DEPARTMENT'],
    },
    {
      case: 'gives every ring through GLOBAL',
      last: 'GLOBAL',
      rings: ['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL'],
    },
  ])('$case', ({ last, rings }) => {
    expect(ringsThrough(last)).toEqual(rings);
  });

  it('returns a new array the caller may change without touching RINGS', () => {
    const rings = ringsThrough('GLOBAL');
    rings.pop();
    expect(RINGS).toHaveLength(5);
  });
});

describe('lowerRing', () => {
  it.each<{ case: string; a: Ring; b: Ring; lower: Ring }>([
    { case: 'picks the first ring when it is lower', a: 'CANARY', b: 'GLOBAL', lower: 'CANARY' },
    { case: 'picks the second ring when it is lower', a: 'DEPARTMENT', b: 'LAB', lower: 'LAB' },
    { case: 'gives the ring itself when both are the same', a: 'PILOT', b: 'PILOT', lower: 'PILOT' },
    { case: 'never widens GLOBAL beyond itself', a: 'GLOBAL', b: 'GLOBAL', lower: 'GLOBAL' },
    { case: 'narrows a GLOBAL target to a CAB max ring of PILOT', a: 'GLOBAL', b: 'PILOT', lower: 'PILOT' },
  ])('$case', ({ a, b, lower }) => {
    expect(lowerRing(a, b)).toBe(lower);
  });
});
