/** What a caller may be granted. People hold the first five; connectors and metrics scrapers the last two. */
export const ROLES = [
  'submitter',
  'cab_member',
  'operator',
  'auditor',
  'admin',
  'connector',
  'metrics_reader',
] as const;
export type Role = (typeof ROLES)[number];
