import { useCallback, useState } from 'react';
import type { FormEvent } from 'react';
import type { Actor, CabQueueItem } from '../api/model';
import { RINGS } from '../api/model';
import { ApiProblem, messageOf } from '../api/problem';
import { actionKeys, api } from '../api';
import { Alert, PageHeading, RiskFactors, RiskScore } from '../components/common';
import { cabDecisionRequest, EMPTY_CAB_FORM, quorumInWords, verdictInWords } from '../lib/cab-form';
import type { CabForm } from '../lib/cab-form';
import { dateTime, statusLabel, timeLeft } from '../lib/format';
import { cabDecisionPermission } from '../lib/permissions';
import { evidenceLines } from '../lib/evidence-summary';
import { useNow } from '../components/use-now';
import { useApiResource } from '../components/use-api-resource';
import { Link } from '../navigation';

export function CabQueue(props: { actor: Actor }) {
  const [decided, setDecided] = useState<string>();
  const now = useNow(30_000);
  const read = useCallback(() => api.cabQueue(), []);
  const { value: items, error, reload: load } = useApiResource(read);

  return (
    <main id="main">
      <PageHeading>CAB queue</PageHeading>
      <p className="muted">Intents waiting for a decision, oldest request first.</p>
      {decided !== undefined && <Alert tone="success">{decided}</Alert>}
      {error !== undefined && <Alert>{error}</Alert>}
      {items?.length === 0 && <p>Nothing waits for the CAB.</p>}
      {items === undefined && error === undefined && <p aria-live="polite">Loading the queue…</p>}
      <ol className="queue">
        {items?.map((item) => (
          <li key={item.intent_id}>
            <QueueItem
              item={item}
              actor={props.actor}
              now={now}
              onDecided={(message) => {
                setDecided(message);
                load();
              }}
            />
          </li>
        ))}
      </ol>
    </main>
  );
}

function QueueItem(props: {
  item: CabQueueItem;
  actor: Actor;
  now: number;
  onDecided: (message: string) => void;
}) {
  const { item } = props;
  const headingId = `intent-${item.intent_id}`;
  const permission = cabDecisionPermission(props.actor, item);
  return (
    <article className="card" aria-labelledby={headingId}>
      <header className="card-header">
        <h2 id={headingId}>
          <Link route={{ page: 'rollout', id: item.intent_id }}>
            {item.app_name} {item.version}
          </Link>
        </h2>
        <RiskScore risk={item.risk} />
      </header>
      <dl className="facts">
        <dt>Submitted by</dt>
        <dd>{item.submitter_id}</dd>
        <dt>Target ring</dt>
        <dd>{statusLabel(item.target_ring)}</dd>
        <dt>Requested</dt>
        <dd>{dateTime(item.requested_at)}</dd>
        <dt>CAB deadline</dt>
        <dd>
          <strong>{timeLeft(item.deadline_at, props.now)}</strong> ({dateTime(item.deadline_at)})
        </dd>
        <dt>Approvals</dt>
        <dd>{quorumInWords(item, props.actor.id).text}</dd>
      </dl>
      <h3>Evidence</h3>
      <ul className="evidence">
        {evidenceLines(item.evidence_summary, props.now).map((line) => (
          <li key={line.label} className={line.ok ? 'ok' : 'concern'}>
            <span className="visually-hidden">{line.ok ? 'Fine: ' : 'Concern: '}</span>
            <strong>{line.label}:</strong> {line.text}
          </li>
        ))}
      </ul>
      {item.risk !== null && (
        <>
          {item.risk.auto_approval_blockers.length > 0 && (
            <p>
              <strong>Why the CAB is asked:</strong> {item.risk.auto_approval_blockers.join('; ')}
            </p>
          )}
          <RiskFactors
            factors={item.risk.factors}
            caption={`Risk factors of ${item.app_name} ${item.version}`}
          />
        </>
      )}
      {permission.allowed ? (
        <DecisionForm item={item} onDecided={props.onDecided} />
      ) : (
        <p className="refusal">
          <strong>You cannot decide this one.</strong> {permission.reason}
        </p>
      )}
    </article>
  );
}

function DecisionForm(props: { item: CabQueueItem; onDecided: (message: string) => void }) {
  const { item } = props;
  const [form, setForm] = useState<CabForm>(EMPTY_CAB_FORM);
  const [problem, setProblem] = useState<{ field?: string; message: string }>();
  const [busy, setBusy] = useState(false);
  const id = (name: string) => `${name}-${item.intent_id}`;
  const update = (change: Partial<CabForm>) => {
    setForm((current) => ({ ...current, ...change }));
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const built = cabDecisionRequest(form);
    if (!('request' in built)) {
      setProblem(built);
      return;
    }
    const action = `cab-decision:${item.intent_id}`;
    setBusy(true);
    setProblem(undefined);
    // Bound to the evidence shown: a pack that changed since is refused (409 stale-evidence), not decided.
    const request = { ...built.request, evidence_hash: item.evidence_summary.evidence_hash };
    api
      .decideCab(item.intent_id, request, actionKeys.keyFor(action, request))
      .then((verdict) => {
        actionKeys.done(action);
        props.onDecided(`${item.app_name} ${item.version}: ${verdictInWords(verdict)}`);
      })
      .catch((failure: unknown) => {
        const field =
          failure instanceof ApiProblem && failure.fieldMessage('conditions') !== undefined
            ? 'conditions'
            : undefined;
        setProblem({ ...(field === undefined ? {} : { field }), message: messageOf(failure) });
      })
      .finally(() => {
        setBusy(false);
      });
  };

  return (
    <form className="decision" onSubmit={submit} aria-label={`Decision on ${item.app_name} ${item.version}`}>
      <fieldset>
        <legend>Decision</legend>
        {(
          [
            ['APPROVED', 'Approve'],
            ['CONDITIONAL', 'Approve with conditions'],
            ['REJECTED', 'Reject'],
          ] as const
        ).map(([value, label]) => (
          <label key={value} className="radio">
            <input
              type="radio"
              name={id('decision')}
              value={value}
              checked={form.decision === value}
              onChange={() => {
                update({ decision: value });
              }}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {form.decision === 'CONDITIONAL' && (
        <fieldset aria-describedby={problem?.field === 'conditions' ? id('conditions-error') : undefined}>
          <legend>Conditions</legend>
          <label htmlFor={id('max-ring')}>Stop after ring</label>
          <select
            id={id('max-ring')}
            value={form.maxRing}
            onChange={(event) => {
              update({ maxRing: event.target.value as CabForm['maxRing'] });
            }}
          >
            <option value="">no limit (up to {item.target_ring})</option>
            {RINGS.slice(0, RINGS.indexOf(item.target_ring) + 1).map((ring) => (
              <option key={ring} value={ring}>
                {ring}
              </option>
            ))}
          </select>
          <label htmlFor={id('extra-soak')}>Extra soak per ring (e.g. 2h, 30m)</label>
          <input
            id={id('extra-soak')}
            value={form.extraSoak}
            onChange={(event) => {
              update({ extraSoak: event.target.value });
            }}
          />
          <label className="checkbox">
            <input
              type="checkbox"
              checked={form.manualPromotion}
              onChange={(event) => {
                update({ manualPromotion: event.target.checked });
              }}
            />
            Each ring waits for a manual promotion
          </label>
          {problem?.field === 'conditions' && (
            <p className="field-error" id={id('conditions-error')}>
              {problem.message}
            </p>
          )}
        </fieldset>
      )}
      <label htmlFor={id('comments')}>Comment{form.decision === 'REJECTED' ? ' (required)' : ''}</label>
      <textarea
        id={id('comments')}
        rows={2}
        value={form.comments}
        aria-invalid={problem?.field === 'comments'}
        onChange={(event) => {
          update({ comments: event.target.value });
        }}
      />
      {problem !== undefined && problem.field !== 'conditions' && <Alert>{problem.message}</Alert>}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Sending…' : 'Record decision'}
      </button>
    </form>
  );
}
