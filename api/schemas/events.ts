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
