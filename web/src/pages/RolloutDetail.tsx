import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import type { ControlAction } from '../api/client';
import type { Actor, IntentDetail, Schemas } from '../api/model';
import { messageOf } from '../api/problem';
import { actionKeys, api } from '../api';
import { Alert, DataTable, PageHeading, RiskFactors, RiskScore, StatusBadge } from '../components/common';
import { useApiResource } from '../components/use-api-resource';
import { useNow } from '../components/use-now';
import { countdownInWords, dateTime } from '../lib/format';
import { availableActions } from '../lib/permissions';
import {
  finalRing,
  gateCheckInWords,
  planStepsFor,
  refreshInterval,
  rollbackInWords,
  ringTimeline,
  soakEndsAt,
} from '../lib/timeline';

type RollbackStep = NonNullable<Schemas['EvidencePack']['rollback_plan']>['steps'][number];

export function RolloutDetail(props: { actor: Actor; id: string }) {
  const [rollbackSteps, setRollbackSteps] = useState<RollbackStep[]>();
  const now = useNow(1000);
  const read = useCallback(() => api.rollout(props.id), [props.id]);
  const { value: intent, error, reload: load } = useApiResource(read);
  // Refreshes while the rollout can still change; stops once it ended.
  const interval = refreshInterval(intent);
  useEffect(() => {
    if (interval === undefined) return undefined;
    const timer = window.setInterval(load, interval);
    return () => {
      window.clearInterval(timer);
    };
  }, [interval, load]);
  const packId = intent?.evidence_pack_id;
  useEffect(() => {
    if (packId === undefined) return;
    api
      .evidencePack(packId)
      .then((pack) => {
        setRollbackSteps(pack.evidence_pack.rollback_plan?.steps ?? []);
      })
      .catch(() => {
        setRollbackSteps(undefined);
      });
  }, [packId]);

  if (intent === undefined) {
    return (
      <main id="main">
        <PageHeading>Rollout</PageHeading>
        {error === undefined ? <p aria-live="polite">Loading…</p> : <Alert>{error}</Alert>}
      </main>
    );
  }
  const soakEnd = soakEndsAt(intent);
  const timeline = ringTimeline(intent);
  return (
    <main id="main">
      <PageHeading>
        {intent.app_name} {intent.version}
      </PageHeading>
      <p className="status-line" aria-live="polite">
        <StatusBadge status={intent.status} />{' '}
        {intent.current_ring === null ? '' : `at ${intent.current_ring}`}{' '}
        <span className="muted">
          (rolls out up to {finalRing(intent)}
          {finalRing(intent) === intent.target_ring ? '' : `, the CAB's limit; target ${intent.target_ring}`})
        </span>
      </p>
      {error !== undefined && <Alert>{error}</Alert>}
      {soakEnd !== undefined && (
        <p role="timer" aria-label="Soak timer" className="soak">
          <strong>Soaking at {intent.current_ring}:</strong>{' '}
          {soakEnd > now ? `${countdownInWords(soakEnd - now)} left` : 'ending now'} (until{' '}
          {dateTime(new Date(soakEnd).toISOString())})
        </p>
      )}
      <Actions actor={props.actor} intent={intent} onDone={load} />
      <dl className="facts">
        <dt>Submitted by</dt>
        <dd>{intent.submitter_id}</dd>
        <dt>Submitted</dt>
        <dd>{dateTime(intent.created_at)}</dd>
        <dt>Risk</dt>
        <dd>
          <RiskScore risk={intent.risk} />
        </dd>
        {intent.cab !== null && (
          <>
            <dt>CAB</dt>
            <dd>
              {intent.cab.state.toLowerCase()}
              {intent.cab.approver_id === null ? '' : ` by ${intent.cab.approver_id}`}
              {intent.cab.comments === null ? '' : `: “${intent.cab.comments}”`}
            </dd>
          </>
        )}
        <dt>Workflow</dt>
        <dd>
          {intent.temporal_ui_url === null ? (
            intent.workflow_id
          ) : (
            <a href={intent.temporal_ui_url} target="_blank" rel="noreferrer">
              {intent.workflow_id} in the Temporal UI
            </a>
          )}
        </dd>
      </dl>
      <h2>Rings</h2>
      <ol className="timeline" aria-label="Ring by ring">
        {timeline.map((step) => (
          <li key={step.ring} className={`ring-${step.state}`}>
            <h3>
              {step.ring} <span className="muted">— {step.state.replace('-', ' ')}</span>
            </h3>
            {step.deploy !== undefined && (
              <p>
                {step.deploy.success_count} succeeded, {step.deploy.failure_count} failed
                <br />
                <span className="muted">
                  {step.deploy.connector_type}, attempt {step.deploy.attempt}, started{' '}
                  {dateTime(step.deploy.started_at)}
                </span>
              </p>
            )}
            {step.deploy?.gate != null && (
              <DataTable
                label={`Gate of ${step.ring}`}
                caption={`Gate ${step.deploy.gate.passed ? 'passed' : 'failed'}`}
                className="gate"
                columns={['Check', 'Required', 'Actual']}
                scroll={false}
              >
                {step.deploy.gate.checks.map((check) => {
                  const words = gateCheckInWords(check);
                  return (
                    <tr key={check.rule}>
                      <th scope="row">
                        {check.passed ? '✓' : '✗'} {words.rule}
                      </th>
                      <td>{words.required}</td>
                      <td>{words.actual}</td>
                    </tr>
                  );
                })}
              </DataTable>
            )}
            {step.rollback !== undefined && (
              <section className="rollback-step" aria-label={`Rollback of ${step.ring}`}>
                <h4>Rollback</h4>
                <p>
                  {rollbackInWords(step.rollback)}
                  <br />
                  <span className="muted">
                    {step.rollback.connector_type}, attempt {step.rollback.attempt}, started{' '}
                    {dateTime(step.rollback.started_at)}
                    {step.rollback.completed_at === null
                      ? ''
                      : `, ended ${dateTime(step.rollback.completed_at)}`}
                  </span>
                </p>
                {rollbackSteps !== undefined && (
                  <ol aria-label={`Rollback steps of ${step.ring}`}>
                    {planStepsFor(step.rollback, rollbackSteps).map((planStep, index) => (
                      <RollbackPlanStep key={index} step={planStep} />
                    ))}
                  </ol>
                )}
              </section>
            )}
          </li>
        ))}
      </ol>
      <div className="two-columns">
        <section aria-labelledby="rollback-title">
          <h2 id="rollback-title">Rollback plan</h2>
          {rollbackSteps === undefined ? (
            <p className="muted">Not available to you.</p>
          ) : (
            <ol>
              {rollbackSteps.map((step, index) => (
                <RollbackPlanStep key={index} step={step} />
              ))}
            </ol>
          )}
        </section>
        {intent.risk !== null && (
          <section aria-labelledby="risk-title">
            <h2 id="risk-title">Risk</h2>
            <RiskFactors factors={intent.risk.factors} />
          </section>
        )}
      </div>
      <h2>Audit trail</h2>
      <DataTable
        label="Audit trail"
        caption="The newest 50 events, oldest first"
        columns={['When', 'Event', 'Actor', 'Details']}
      >
        {intent.recent_events.map((event) => (
          <tr key={event.id}>
            <td>{dateTime(event.occurred_at)}</td>
            <th scope="row">{event.event_type}</th>
            <td>{event.actor}</td>
            <td>
              <code>{JSON.stringify(event.payload)}</code>
            </td>
          </tr>
        ))}
      </DataTable>
    </main>
  );
}

function RollbackPlanStep(props: { step: RollbackStep }) {
  const { step } = props;
  return (
    <li>
      <strong>{step.platform}</strong>: {step.strategy.toLowerCase().replace('_', ' ')} —{' '}
      <code>{step.instructions}</code> {step.tested ? '(tested)' : '(not tested)'}
    </li>
  );
}

const ACTION_LABELS: Readonly<Record<ControlAction, string>> = {
  pause: 'Pause',
  resume: 'Resume',
  abort: 'Abort and roll back',
  promote: 'Promote to the next ring',
};

function Actions(props: { actor: Actor; intent: IntentDetail; onDone: () => void }) {
  const offered = availableActions(props.actor, props.intent);
  const [confirmingAbort, setConfirmingAbort] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: 'error' | 'success'; text: string }>();
  if (offered.length === 0) return null;

  const run = (action: ControlAction, why?: string) => {
    const request = { id: props.intent.id, why };
    const name = `${action}:${props.intent.id}`;
    setBusy(true);
    api
      .control(action, props.intent.id, actionKeys.keyFor(name, request), why)
      .then(() => {
        actionKeys.done(name);
        setMessage({
          tone: 'success',
          text: `${ACTION_LABELS[action]}: accepted; it takes effect between steps.`,
        });
        setConfirmingAbort(false);
        props.onDone();
      })
      .catch((failure: unknown) => {
        setMessage({ tone: 'error', text: messageOf(failure) });
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const confirmAbort = (event: FormEvent) => {
    event.preventDefault();
    run('abort', reason);
  };

  return (
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      <div className="actions">
        {offered.map(({ action, permission }) =>
          permission.allowed ? (
            <button
              key={action}
              type="button"
              className={action === 'abort' ? 'danger' : undefined}
              disabled={busy}
              onClick={() => {
                if (action === 'abort') setConfirmingAbort(true);
                else run(action);
              }}
            >
              {ACTION_LABELS[action]}
            </button>
          ) : (
            <p key={action} className="refusal">
              <strong>{ACTION_LABELS[action]}:</strong> {permission.reason}
            </p>
          ),
        )}
      </div>
      {confirmingAbort && (
        <form onSubmit={confirmAbort} aria-label="Confirm the abort">
          <label htmlFor="abort-reason">Why abort? (recorded in the audit trail)</label>
          <textarea
            id="abort-reason"
            required
            rows={2}
            value={reason}
            onChange={(event) => {
              setReason(event.target.value);
            }}
          />
          <p>Every deployed ring will be rolled back. This cannot be undone.</p>
          <div className="actions">
            <button type="submit" className="danger" disabled={busy || reason.trim() === ''}>
              Yes, abort and roll back
            </button>
            <button
              type="button"
              onClick={() => {
                setConfirmingAbort(false);
              }}
            >
              Keep it running
            </button>
          </div>
        </form>
      )}
      {message !== undefined && <Alert tone={message.tone}>{message.text}</Alert>}
    </section>
  );
}
