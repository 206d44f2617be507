import { separationOfDuties } from '../policy/authorization';
import type { HumanGate } from '../policy/authorization';
import { problems } from './problem';
import type { Actor } from './request-context';

/**
 * 403 when the caller submitted the intent they want to pass through a human gate. Asked before the
 * workflow is, so a refused request changes nothing anywhere (and costs no call to Temporal).
 */
export function refuseOwnGate(
  gate: HumanGate,
  caller: Actor,
  intent: { readonly submitterId: string },
): void {
  const decision = separationOfDuties(gate, caller.id, intent);
  if (!decision.allowed) throw problems.forbidden(decision.reason, decision.type);
}
