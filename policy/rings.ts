/** The rollout rings, in promotion order. */
export const RINGS = ['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL'] as const;
export type Ring = (typeof RINGS)[number];

export function ringIndex(ring: Ring): number {
  return RINGS.indexOf(ring);
}

/** The rings from LAB up to and including `last`. */
export function ringsThrough(last: Ring): Ring[] {
  return RINGS.slice(0, ringIndex(last) + 1);
}

/** The lower of two rings: a CAB `max_ring` can only narrow the intent's target. */
export function lowerRing(a: Ring, b: Ring): Ring {
  return ringIndex(a) <= ringIndex(b) ? a : b;
}
