import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import type { RolloutFilters } from '../api/client';
import type { Actor } from '../api/model';
import { INTENT_STATUSES, RINGS } from '../api/model';
import { api } from '../api';
import { Alert, DataTable, PageHeading, StatusBadge } from '../components/common';
import { useApiResource } from '../components/use-api-resource';
import { dateTime, statusLabel } from '../lib/format';
import { Link, useNavigate } from '../navigation';

export function Rollouts(props: { actor: Actor; filters: RolloutFilters }) {
  const navigate = useNavigate();
  const [draft, setDraft] = useState<RolloutFilters>(props.filters);
  const read = useCallback(() => api.rollouts(props.filters), [props.filters]);
  const { value: items, error, reload } = useApiResource(read);
  useEffect(() => {
    const timer = window.setInterval(reload, 5000);
    return () => {
      window.clearInterval(timer);
    };
  }, [reload]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    navigate({ page: 'rollouts', filters: draft });
  };

  return (
    <main id="main">
      <PageHeading>Rollouts</PageHeading>
      <form className="filters" onSubmit={apply} aria-label="Filter rollouts">
        <ChoiceFilter
          name="status"
          label="Status"
          value={draft.status}
          choices={INTENT_STATUSES}
          labelOf={statusLabel}
          onChange={(status) => {
            setDraft({ ...draft, status });
          }}
        />
        <ChoiceFilter
          name="ring"
          label="Current ring"
          value={draft.ring}
          choices={RINGS}
          onChange={(ring) => {
            setDraft({ ...draft, ring });
          }}
        />
        <TextFilter
          name="app"
          label="App"
          value={draft.app_name}
          onChange={(app_name) => {
            setDraft({ ...draft, app_name });
          }}
        />
        <TextFilter
          name="submitter"
          label="Submitter"
          value={draft.submitter}
          onChange={(submitter) => {
            setDraft({ ...draft, submitter });
          }}
        />
        <div>
          <button type="submit">Apply filters</button>
        </div>
      </form>
      {error !== undefined && <Alert>{error}</Alert>}
      {items?.length === 0 && <p>No rollout matches.</p>}
      {items !== undefined && items.length > 0 && (
        <DataTable
          label="Rollouts"
          caption="Newest first"
          columns={['App', 'Status', 'Ring', 'Risk', 'Submitter', 'Submitted']}
        >
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
        </DataTable>
      )}
    </main>
  );
}

/** A filter that picks one of a list, or any. */
function ChoiceFilter<Value extends string>(props: {
  name: string;
  label: string;
  value: Value | undefined;
  choices: readonly Value[];
  labelOf?: (value: Value) => string;
  onChange: (value: Value | undefined) => void;
}) {
  const id = `filter-${props.name}`;
  return (
    <div>
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        value={props.value ?? ''}
        onChange={(event) => {
          props.onChange(props.choices.find((choice) => choice === event.target.value));
        }}
      >
        <option value="">any</option>
        {props.choices.map((choice) => (
          <option key={choice} value={choice}>
            {props.labelOf === undefined ? choice : props.labelOf(choice)}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A filter on a text the person types. */
function TextFilter(props: {
  name: string;
  label: string;
  value: string | undefined;
  onChange: (value: string) => void;
}) {
  const id = `filter-${props.name}`;
  return (
    <div>
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        value={props.value ?? ''}
        onChange={(event) => {
          props.onChange(event.target.value);
        }}
      />
    </div>
  );
}
