import { z } from 'zod';
import { auditEventSchema, pageOf, pageQuery } from './common';

export const listEventsQuery = z.strictObject({
  correlation_id: z.uuid().optional().describe('events of one request or intent rollout'),
  intent_id: z.uuid().optional(),
  event_type: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'an event type such as CAB_DECIDED')
    .optional(),
  ...pageQuery,
});

export const auditEventPageSchema = pageOf(auditEventSchema, 'AuditEventPage');
