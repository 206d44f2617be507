import { z } from 'zod';
import { auditEventSchema, pageOf, pageQuery } from './common';

export const listEventsQuery = z.strictObject({
  correlation_id: z
    .uuid()
    .optional()
    .describe('events of one intent rollout (or of one credential, risk model or sign-in)'),
  request_id: z.uuid().optional().describe('events one request caused (its X-Correlation-ID)'),
  intent_id: z.uuid().optional(),
  event_type: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'an event type such as CAB_DECIDED')
    .optional(),
  ...pageQuery,
});

export const auditEventPageSchema = pageOf(auditEventSchema, 'AuditEventPage');

export const verifyEventsQuery = z.strictObject({
  from_event_id: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe(
      'verify from this event (its predecessor’s stored hash is the starting point); whole chain when absent',
    ),
});

const chainPosition = z.object({ seq: z.number().int(), hash: z.string() });

export const chainVerificationSchema = z
  .object({
    intact: z.boolean().describe('every verified link holds and the chain ends at its recorded head'),
    from_event_id: z.number().int().nullable(),
    verified: z.number().int().describe('links recomputed and found intact, in seq order'),
    last_verified: chainPosition.extend({ event_id: z.number().int() }).nullable(),
    head: chainPosition.describe('the chain head the writers recorded when verification started'),
    first_broken_link: z
      .object({
        event_id: z.number().int().describe('the event whose link fails (0: none, the chain is empty)'),
        seq: z.number().int(),
        reason: z.enum(['HASH_MISMATCH', 'PREV_HASH_MISMATCH', 'SEQUENCE_GAP', 'HEAD_MISMATCH']),
      })
      .nullable(),
  })
  .meta({ id: 'AuditChainVerification' });
