import type { ConnectorType, CreateIntent, EvidencePack, Platform, Ring, Schemas } from '../api/model';

export interface SubmitForm {
  readonly appName: string;
  readonly version: string;
  readonly targetRing: Ring;
  readonly connectors: Readonly<Partial<Record<Platform, ConnectorType>>>;
  /** The evidence pack as JSON, pasted or edited by the person. */
  readonly evidence: string;
}

/** A starting point for the evidence pack: every part the API requires, to be replaced with the real ones. */
export const EVIDENCE_TEMPLATE = JSON.stringify(
  {
    artifact_hash: '',
    artifact_storage_url: 'https://artifacts.example.com/app/1.0/app.msi',
    signature: { status: 'TRUSTED_PUBLISHER', publisher: '' },
    sbom: { format: 'cyclonedx', component_count: 0, complete: true },
    scan_results: { tool: 'defender', scanned_at: '', critical: 0, high: 0, medium: 0, low: 0 },
    scan_decision: { decision: 'PASS' },
    privileges: { requires_admin: false, requests_elevation: false },
    rollback_plan: {
      steps: [{ platform: 'windows', strategy: 'UNINSTALL', instructions: '', tested: true }],
    },
  },
  null,
  2,
);

export const EMPTY_SUBMIT_FORM: SubmitForm = {
  appName: '',
  version: '',
  targetRing: 'GLOBAL',
  connectors: { windows: 'intune' },
  evidence: EVIDENCE_TEMPLATE,
};

export type SubmitField = 'app_name' | 'version' | 'connectors' | 'evidence_pack';
export interface FormProblem {
  readonly field: SubmitField;
  readonly message: string;
}

/** The evidence JSON as a pack, or what is wrong with it in words. */
export function parseEvidence(text: string): { pack: EvidencePack } | FormProblem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { field: 'evidence_pack', message: `The evidence is not valid JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { field: 'evidence_pack', message: 'The evidence must be a JSON object ({ … }).' };
  }
  const pack: EvidencePack = parsed;
  return { pack };
}

function connectorsOf(form: SubmitForm): Schemas['ConnectorMap'] {
  // The document lists each platform's reachable connectors; the form may hold any, and the API names
  // a platform whose connector cannot reach it (400, field connectors.<platform>), which the form shows.
  const map: Partial<Record<Platform, ConnectorType>> = {};
  for (const platform of ['windows', 'macos', 'linux'] as const) {
    const type = form.connectors[platform];
    if (type !== undefined) map[platform] = type;
  }
  return map as Schemas['ConnectorMap'];
}

/** The dry-run request for the risk score as the form stands, or undefined while the evidence does not parse. */
export function riskRequest(form: SubmitForm): Schemas['RiskEvaluationRequest'] | undefined {
  const evidence = parseEvidence(form.evidence);
  if (!('pack' in evidence)) return undefined;
  const connectors = connectorsOf(form);
  if (Object.keys(connectors).length === 0) return undefined;
  return { evidence_pack: evidence.pack, target_ring: form.targetRing, connectors };
}

/** The intent the form makes, or the first field to fix before it can be sent. */
export function submission(form: SubmitForm): { request: CreateIntent } | FormProblem {
  const appName = form.appName.trim();
  const version = form.version.trim();
  if (appName === '') return { field: 'app_name', message: 'Name the application.' };
  if (version === '') return { field: 'version', message: 'Give the version to roll out.' };
  const connectors = connectorsOf(form);
  if (Object.keys(connectors).length === 0) {
    return { field: 'connectors', message: 'Choose a connector for at least one platform.' };
  }
  const evidence = parseEvidence(form.evidence);
  if (!('pack' in evidence)) return evidence;
  return {
    request: {
      app_name: appName,
      version,
      target_ring: form.targetRing,
      connectors,
      evidence_pack: evidence.pack,
    },
  };
}

/** Which form field an API field path (e.g. `evidence_pack.sbom.complete`) belongs to. */
export function formFieldOf(apiField: string): SubmitField {
  const top = apiField.split(/[.[]/)[0] ?? '';
  if (top === 'app_name' || top === 'version' || top === 'connectors') return top;
  return 'evidence_pack';
}

/** The API's field problems grouped by the form field they belong to, each group in one sentence. */
export function problemsByField(
  fields: readonly { field: string; message: string }[],
): Partial<Record<SubmitField, string>> {
  const grouped: Partial<Record<SubmitField, string[]>> = {};
  for (const problem of fields) {
    const field = formFieldOf(problem.field);
    const named = problem.field === field ? problem.message : `${problem.field}: ${problem.message}`;
    (grouped[field] ??= []).push(named);
  }
  return Object.fromEntries(Object.entries(grouped).map(([field, list]) => [field, list.join('; ')]));
}

/** Missing evidence parts the dry-run named, in words. */
export function missingInWords(missing: readonly string[]): string | undefined {
  if (missing.length === 0) return undefined;
  return `The pack lacks ${missing.map((part) => part.replace(/_/g, ' ')).join(', ')}: the API refuses the intent until they are given.`;
}
