import { useState } from 'react';
import type { FormEvent } from 'react';
import type { Actor, SignInOptions, SignInRole } from '../api/model';
import { SIGN_IN_ROLES } from '../api/model';
import { messageOf } from '../api/problem';
import { api } from '../api';
import { roleLabel } from '../lib/format';
import { Alert, PageHeading } from '../components/common';

export function SignIn(props: { options: SignInOptions; onSignedIn: (actor: Actor) => void }) {
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [roles, setRoles] = useState<SignInRole[]>(['submitter']);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    api
      .devLogin(username, roles, displayName)
      .then(props.onSignedIn)
      .catch((failure: unknown) => {
        setError(messageOf(failure));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const toggle = (role: SignInRole, on: boolean) => {
    setRoles((current) => (on ? [...current, role] : current.filter((r) => r !== role)));
  };
  const returnTo = encodeURIComponent(window.location.pathname + window.location.search);

  return (
    <main className="sign-in" id="main">
      <PageHeading>Sign in to EUCORA</PageHeading>
      {props.options.entra !== null && (
        <p>
          <a className="button primary" href={`${props.options.entra.login_url}?return_to=${returnTo}`}>
            Sign in with Microsoft Entra ID
          </a>
        </p>
      )}
      {props.options.dev_login && (
        <form onSubmit={submit} className="dev-login" aria-labelledby="dev-login-title">
          <h2 id="dev-login-title">Development sign-in</h2>
          <p className="warning-banner">
            Development only: anyone on this machine can sign in as anyone. Never enabled in production.
          </p>
          <label htmlFor="username">User name</label>
          <input
            id="username"
            name="username"
            required
            autoComplete="username"
            pattern="[A-Za-z0-9._@+\-]{1,128}"
            value={username}
            onChange={(event) => {
              setUsername(event.target.value);
            }}
          />
          <label htmlFor="display-name">Display name (optional)</label>
          <input
            id="display-name"
            name="display_name"
            value={displayName}
            onChange={(event) => {
              setDisplayName(event.target.value);
            }}
          />
          <fieldset>
            <legend>Roles</legend>
            {SIGN_IN_ROLES.map((role) => (
              <label key={role} className="checkbox">
                <input
                  type="checkbox"
                  name="roles"
                  value={role}
                  checked={roles.includes(role)}
                  onChange={(event) => {
                    toggle(role, event.target.checked);
                  }}
                />
                {roleLabel(role)}
              </label>
            ))}
          </fieldset>
          {error !== undefined && <Alert>{error}</Alert>}
          <button type="submit" className="primary" disabled={busy || roles.length === 0}>
            Sign in
          </button>
        </form>
      )}
      {props.options.entra === null && !props.options.dev_login && (
        <Alert>No sign-in is configured on this server. Ask its administrator.</Alert>
      )}
    </main>
  );
}
