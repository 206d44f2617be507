import { useCallback, useState } from 'react';
import type { FormEvent } from 'react';
import type { ConnectorType, Schemas } from '../api/model';
import { CONNECTOR_TYPES } from '../api/model';
import { messageOf } from '../api/problem';
import { actionKeys, api } from '../api';
import { Alert, DataTable, PageHeading } from '../components/common';
import { useApiResource } from '../components/use-api-resource';
import { dateTime } from '../lib/format';

type Credential = Schemas['ConnectorCredential'];

export function Credentials() {
  const [notice, setNotice] = useState<{ tone: 'error' | 'success'; text: string }>();
  const [issued, setIssued] = useState<Schemas['IssuedConnectorCredential']>();
  const read = useCallback(() => api.credentials(), []);
  const { value: items, error, reload: load } = useApiResource(read);

  const revoke = (credential: Credential) => {
    const action = `revoke-credential:${credential.id}`;
    setNotice(undefined);
    api
      .revokeCredential(credential.id, actionKeys.keyFor(action, credential.id))
      .then(() => {
        actionKeys.done(action);
        setNotice({
          tone: 'success',
          text: `${credential.name} is revoked: its key is refused from now on.`,
        });
        load();
      })
      .catch((failure: unknown) => {
        setNotice({ tone: 'error', text: messageOf(failure) });
      });
  };

  return (
    <main id="main">
      <PageHeading>Connector credentials</PageHeading>
      <IssueForm
        onIssued={(credential) => {
          setIssued(credential);
          setNotice(undefined);
          load();
        }}
      />
      {issued?.api_key !== undefined && <IssuedKey credential={issued} apiKey={issued.api_key} />}
      {notice !== undefined && <Alert tone={notice.tone}>{notice.text}</Alert>}
      {error !== undefined && <Alert>{error}</Alert>}
      {items === undefined && error === undefined && <p aria-live="polite">Loading credentials…</p>}
      {items?.length === 0 && <p>No credentials issued yet.</p>}
      {items !== undefined && items.length > 0 && (
        <DataTable
          label="Issued credentials"
          columns={['Name', 'Scope', 'Fingerprint', 'Issued', 'Last used', 'State']}
        >
          {items.map((credential) => (
            <tr key={credential.id}>
              <th scope="row">{credential.name}</th>
              <td>
                {credential.scope}
                {credential.connector_type === null ? '' : ` (${credential.connector_type})`}
              </td>
              <td>
                <code>{credential.key_fingerprint}</code>
              </td>
              <td>
                {dateTime(credential.created_at)} by {credential.created_by}
              </td>
              <td>{credential.last_used_at === null ? 'never' : dateTime(credential.last_used_at)}</td>
              <td>
                {credential.revoked_at === null ? (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke ${credential.name}`}
                    onClick={() => {
                      if (window.confirm(`Revoke ${credential.name}? Its key stops working at once.`))
                        revoke(credential);
                    }}
                  >
                    Revoke
                  </button>
                ) : (
                  `revoked ${dateTime(credential.revoked_at)}`
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </main>
  );
}

function IssueForm(props: { onIssued: (credential: Schemas['IssuedConnectorCredential']) => void }) {
  const [name, setName] = useState('');
  const [type, setType] = useState<ConnectorType>('intune');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    if (name.trim() === '') {
      setProblem('Name the connector: audit entries name it by this.');
      return;
    }
    const request = { scope: 'connector' as const, connector_type: type, name: name.trim() };
    setBusy(true);
    setProblem(undefined);
    api
      .issueCredential(request, actionKeys.keyFor('issue-credential', request))
      .then((credential) => {
        actionKeys.done('issue-credential');
        setName('');
        props.onIssued(credential);
      })
      .catch((failure: unknown) => {
        setProblem(messageOf(failure));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <form className="issue" onSubmit={submit} aria-label="Issue a connector key">
      <h2>Issue a connector key</h2>
      <label htmlFor="credential-name">Name</label>
      <input
        id="credential-name"
        value={name}
        aria-invalid={problem !== undefined}
        aria-describedby={problem === undefined ? undefined : 'credential-name-error'}
        onChange={(event) => {
          setName(event.target.value);
        }}
      />
      <label htmlFor="credential-type">Connector</label>
      <select
        id="credential-type"
        value={type}
        onChange={(event) => {
          setType(event.target.value as ConnectorType);
        }}
      >
        {CONNECTOR_TYPES.map((candidate) => (
          <option key={candidate} value={candidate}>
            {candidate}
          </option>
        ))}
      </select>
      {problem !== undefined && (
        <p className="field-error" id="credential-name-error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        Issue key
      </button>
    </form>
  );
}

/** The new key, shown this once (only its hash is kept), with a copy button. */
function IssuedKey(props: { credential: Schemas['IssuedConnectorCredential']; apiKey: string }) {
  const [copied, setCopied] = useState<string>();
  const copy = () => {
    navigator.clipboard
      .writeText(props.apiKey)
      .then(() => {
        setCopied('Copied to the clipboard.');
      })
      .catch(() => {
        setCopied('The browser refused the clipboard: select the key and copy it by hand.');
      });
  };
  return (
    <section className="card issued-key" aria-labelledby="issued-key-heading">
      <h2 id="issued-key-heading">Key for {props.credential.name}</h2>
      <p>
        <strong>Shown this once.</strong> EUCORA keeps only its hash: copy it into the connector&apos;s
        configuration now.
      </p>
      <p>
        <label htmlFor="issued-key">API key</label>
        <input id="issued-key" readOnly value={props.apiKey} className="json" />
      </p>
      <button type="button" onClick={copy}>
        Copy key
      </button>
      {copied !== undefined && <span role="status"> {copied}</span>}
    </section>
  );
}
