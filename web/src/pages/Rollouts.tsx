import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import type { RolloutFilters } from '../api/client';
import type { Actor, IntentSummary } from '../api/model';
import { INTENT_STATUSES, RINGS } from '../api/model';
import { messageOf } from '../api/problem';
import { api } from '../api';
import { Alert, PageHeading, StatusBadge } from '../components/common';
import { dateTime, statusLabel } from '../lib/format';
import { Link, useNavigate } from '../navigation';

export function Rollouts(props: { actor: Actor; filters: RolloutFilters }) {
  const navigate = useNavigate();
  const [items, setItems] = useState<IntentSummary[]>();
  const [error, setError] = useState<string>();
  const [draft, setDraft] = useState<RolloutFilters>(props.filters);

  const load = useCallback(() => {
    api
      .rollouts(props.filters)
      .then((page) => {
        setItems(page);
        setError(undefined);
      })
      .catch((failure: unknown) => {
        setError(messageOf(failure));
      });
  }, [props.filters]);
  useEffect(() => {
    load();
    const timer = window.setInterval(load, 5000);
    return () => {
      window.clearInterval(timer);
    };
  }, [load]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    navigate({ page: 'rollouts', filters: draft });
  };

  return (
    <main id="main">
      <PageHeading>Rollouts</PageHeading>
      <form className="filters" onSubmit={apply} aria-label="Filter rollouts">
        <div>
          <label htmlFor="filter-status">Status</label>
          <select
            id="filter-status"
            value={draft.status ?? ''}
            onChange={(event) => {
              setDraft({ ...draft, status: INTENT_STATUSES.find((s) => s === event.target.value) });
            }}
          >
            <option value="">any</option>
            {INTENT_STATUSES.map((status) => (
              <option key={status} value={status}>
                {statusLabel(status)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="filter-ring">Current ring</label>
          <select
            id="filter-ring"
            value={draft.ring ?? ''}
            onChange={(event) => {
              setDraft({ ...draft, ring: RINGS.find((r) => r === event.target.value) });
            }}
          >
            <option value="">any</option>
            {RINGS.map((ring) => (
              <option key={ring} value={ring}>
                {ring}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="filter-app">App</label>
          <input
            id="filter-app"
            value={draft.app_name ?? ''}
            onChange={(event) => {
              setDraft({ ...draft, app_name: event.target.value });
            }}
          />
        </div>
        <div>
          <label htmlFor="filter-submitter">Submitter</label>
          <input
            id="filter-submitter"
            value={draft.submitter ?? ''}
            onChange={(event) => {
              setDraft({ ...draft, submitter: event.target.value });
            }}
          />
        </div>
        <div>
          <button type="submit">Apply filters</button>
        </div>
      </form>
      {error !== undefined && <Alert>{error}</Alert>}
      {items?.length === 0 && <p>No rollout matches.</p>}
      {items !== undefined && items.length > 0 && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Rollouts">
          <table>
            <caption>Newest first</caption>
            <thead>
              <tr>
                <th scope="col">App</th>
                <th scope="col">Status</th>
                <th scope="col">Ring</th>
                <th scope="col">Risk</th>
                <th scope="col">Submitter</th>
                <th scope="col">Submitted</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.id}>
                  <th scope="row">
                    <Link route={{ page: 'rollout', id: item.id }}>
                      {item.app_name} {item.version}
                    </Link>
                  </th>
                  <td>
                    <StatusBadge status={item.status} />
                  </td>
                  <td>
                    {item.current_ring ?? '—'} <span className="muted">of {item.target_ring}</span>
                  </td>
                  <td>{item.risk_score ?? '—'}</td>
                  <td>{item.submitter_id}</td>
                  <td>{dateTime(item.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
