import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { ConnectorType, Platform, Ring, Schemas } from '../api/model';
import { CONNECTOR_TYPES, PLATFORMS, RINGS } from '../api/model';
import { ApiProblem, messageOf } from '../api/problem';
import { actionKeys, api } from '../api';
import { Alert, PageHeading, RiskFactors, RiskScore } from '../components/common';
import { statusLabel } from '../lib/format';
import {
  EMPTY_SUBMIT_FORM,
  missingInWords,
  problemsByField,
  riskRequest,
  submission,
} from '../lib/submit-form';
import type { SubmitField, SubmitForm } from '../lib/submit-form';
import { Link } from '../navigation';

type DryRun =
  | { readonly state: 'idle' }
  | { readonly state: 'scoring' }
  | { readonly state: 'scored'; readonly risk: Schemas['RiskEvaluation'] }
  | { readonly state: 'failed'; readonly message: string };

const ACTION = 'submit-intent';

export function Submit() {
  const [form, setForm] = useState<SubmitForm>(EMPTY_SUBMIT_FORM);
  const [dryRun, setDryRun] = useState<DryRun>({ state: 'idle' });
  const [problems, setProblems] = useState<Partial<Record<SubmitField, string>>>({});
  const [failure, setFailure] = useState<string>();
  const [created, setCreated] = useState<{ id: string; name: string; status: string }>();
  const [busy, setBusy] = useState(false);
  // A second click before React re-renders the disabled button still sends nothing.
  const inFlight = useRef(false);
  // An edit answers the problems shown: they go until the next attempt.
  const update = (change: Partial<SubmitForm>) => {
    setForm((current) => ({ ...current, ...change }));
    setProblems({});
    setFailure(undefined);
  };

  // The live dry-run: the score and its factors as the form changes (the latest request wins).
  const request = riskRequest(form);
  const requestText = request === undefined ? '' : JSON.stringify(request);
  useEffect(() => {
    if (requestText === '') {
      setDryRun({ state: 'idle' });
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      setDryRun({ state: 'scoring' });
      api
        .evaluateRisk(JSON.parse(requestText) as Schemas['RiskEvaluationRequest'], controller.signal)
        .then((risk) => {
          setDryRun({ state: 'scored', risk });
        })
        .catch((error: unknown) => {
          if (!controller.signal.aborted) setDryRun({ state: 'failed', message: messageOf(error) });
        });
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [requestText]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (inFlight.current) return;
    const built = submission(form);
    if (!('request' in built)) {
      setProblems({ [built.field]: built.message });
      return;
    }
    inFlight.current = true;
    setBusy(true);
    setProblems({});
    setFailure(undefined);
    api
      .submitIntent(built.request, actionKeys.keyFor(ACTION, built.request))
      .then((intent) => {
        actionKeys.done(ACTION);
        setCreated({
          id: intent.id,
          name: `${built.request.app_name} ${built.request.version}`,
          status: intent.status,
        });
      })
      .catch((error: unknown) => {
        if (error instanceof ApiProblem && error.fields.length > 0)
          setProblems(problemsByField(error.fields));
        setFailure(messageOf(error));
      })
      .finally(() => {
        inFlight.current = false;
        setBusy(false);
      });
  };

  const field = (name: SubmitField) => ({
    'aria-invalid': problems[name] !== undefined,
    'aria-describedby': problems[name] === undefined ? undefined : `${name}-error`,
  });
  const fieldError = (name: SubmitField) =>
    problems[name] !== undefined && (
      <p className="field-error" id={`${name}-error`}>
        {problems[name]}
      </p>
    );

  return (
    <main id="main">
      <PageHeading>Submit an intent</PageHeading>
      {created !== undefined && (
        <Alert tone="success">
          Submitted: <Link route={{ page: 'rollout', id: created.id }}>{created.name}</Link> (
          {statusLabel(created.status)}).
        </Alert>
      )}
      <div className="submit-layout">
        <form className="submit-form" onSubmit={submit} aria-label="Deployment intent" noValidate>
          <label htmlFor="app_name">Application</label>
          <input
            id="app_name"
            value={form.appName}
            {...field('app_name')}
            onChange={(event) => {
              update({ appName: event.target.value });
            }}
          />
          {fieldError('app_name')}
          <label htmlFor="version">Version</label>
          <input
            id="version"
            value={form.version}
            {...field('version')}
            onChange={(event) => {
              update({ version: event.target.value });
            }}
          />
          {fieldError('version')}
          <label htmlFor="target_ring">Target ring</label>
          <select
            id="target_ring"
            value={form.targetRing}
            onChange={(event) => {
              update({ targetRing: event.target.value as Ring });
            }}
          >
            {RINGS.map((ring) => (
              <option key={ring} value={ring}>
                {ring}
              </option>
            ))}
          </select>
          <fieldset {...field('connectors')}>
            <legend>Connector per platform</legend>
            {PLATFORMS.map((platform: Platform) => (
              <div key={platform}>
                <label htmlFor={`connector-${platform}`}>{platform}</label>
                <select
                  id={`connector-${platform}`}
                  value={form.connectors[platform] ?? ''}
                  onChange={(event) => {
                    const value = event.target.value as ConnectorType | '';
                    const connectors: Partial<Record<Platform, ConnectorType>> = {};
                    for (const other of PLATFORMS) {
                      const type = other === platform ? value : form.connectors[other];
                      if (type !== undefined && type !== '') connectors[other] = type;
                    }
                    update({ connectors });
                  }}
                >
                  <option value="">not deployed</option>
                  {CONNECTOR_TYPES.map((type) => (
                    <option key={type} value={type}>
                      {type}
                    </option>
                  ))}
                </select>
              </div>
            ))}
          </fieldset>
          {fieldError('connectors')}
          <label htmlFor="evidence_pack">Evidence pack (JSON)</label>
          <textarea
            id="evidence_pack"
            rows={18}
            spellCheck={false}
            className="json"
            value={form.evidence}
            {...field('evidence_pack')}
            onChange={(event) => {
              update({ evidence: event.target.value });
            }}
          />
          {fieldError('evidence_pack')}
          {failure !== undefined && <Alert>{failure}</Alert>}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Submitting…' : 'Submit intent'}
          </button>
        </form>
        <section className="dry-run" aria-labelledby="dry-run-heading" aria-live="polite">
          <h2 id="dry-run-heading">Risk dry-run</h2>
          {dryRun.state === 'idle' && <p className="muted">Scored as soon as the evidence is valid JSON.</p>}
          {dryRun.state === 'scoring' && <p className="muted">Scoring…</p>}
          {dryRun.state === 'failed' && <Alert>{dryRun.message}</Alert>}
          {dryRun.state === 'scored' && (
            <>
              <p>
                <RiskScore risk={dryRun.risk} />{' '}
                {dryRun.risk.requires_cab ? 'The CAB decides this one.' : 'Approved automatically.'}
              </p>
              {missingInWords(dryRun.risk.missing_evidence) !== undefined && (
                <p className="field-error">{missingInWords(dryRun.risk.missing_evidence)}</p>
              )}
              <RiskFactors factors={dryRun.risk.factors} caption="Risk factors of this form" />
            </>
          )}
        </section>
      </div>
    </main>
  );
}
