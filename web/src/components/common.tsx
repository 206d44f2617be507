import { useEffect, useRef } from 'react';
import type { ReactNode } from 'react';
import type { FactorScore, IntentStatus, RiskSummary } from '../api/model';
import { percent, statusLabel, statusTone } from '../lib/format';

/** An error or refusal in plain words, announced to screen readers. */
export function Alert(props: { children: ReactNode; tone?: 'error' | 'success' | 'info' }) {
  const tone = props.tone ?? 'error';
  return (
    <div className={`alert alert-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

export function StatusBadge(props: { status: IntentStatus }) {
  return <span className={`badge badge-${statusTone(props.status)}`}>{statusLabel(props.status)}</span>;
}

export function RiskScore(props: { risk: RiskSummary | null }) {
  if (props.risk === null) return <span className="muted">not assessed yet</span>;
  const { score, threshold, requires_cab: cab } = props.risk;
  return (
    <span className={`risk ${cab ? 'risk-high' : 'risk-low'}`}>
      Risk {score}
      <span className="muted"> / threshold {threshold}</span>
    </span>
  );
}

/**
 * A table with its caption and column headers. By default it scrolls sideways inside a labelled region
 * (a narrow column, a half-screen laptop) instead of overflowing; `scroll={false}` for a small table inline.
 */
export function DataTable(props: {
  label: string;
  columns: readonly string[];
  caption?: ReactNode;
  className?: string;
  scroll?: boolean;
  children: ReactNode;
}) {
  const table = (
    <table className={props.className}>
      {props.caption !== undefined && <caption>{props.caption}</caption>}
      <thead>
        <tr>
          {props.columns.map((column) => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
  if (props.scroll === false) return table;
  return (
    <div className="table-scroll" role="region" aria-label={props.label} tabIndex={0}>
      {table}
    </div>
  );
}

/** Each factor's share of the score, largest first, with its rationale. */
export function RiskFactors(props: { factors: readonly FactorScore[]; caption?: string }) {
  const factors = [...props.factors].sort((a, b) => b.contribution - a.contribution);
  const caption = props.caption ?? 'Risk factors';
  return (
    <DataTable
      label={caption}
      caption={caption}
      className="factors"
      columns={['Factor', 'Score', 'Weight', 'Points', 'Why']}
    >
      {factors.map((factor) => (
        <tr key={factor.factor}>
          <th scope="row">{factor.name}</th>
          <td>{percent(factor.score)}</td>
          <td>{percent(factor.weight)}</td>
          <td>{Math.round(factor.contribution * 10) / 10}</td>
          <td>{factor.rationale}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** Moves focus to a page's heading when the page opens, so keyboard and screen reader users start there. */
export function PageHeading(props: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {props.children}
    </h1>
  );
}
