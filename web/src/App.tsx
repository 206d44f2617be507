import { useEffect, useState } from 'react';
import type { Actor, SignInOptions } from './api/model';
import { messageOf } from './api/problem';
import { api } from './api';
import { Alert } from './components/common';
import { roleLabel } from './lib/format';
import { hasRole } from './lib/permissions';
import { homeFor, navigationFor, pathOf } from './lib/routes';
import type { Route } from './lib/routes';
import { Link, NavigationProvider, useRouter } from './navigation';
import { CabQueue } from './pages/CabQueue';
import { RolloutDetail } from './pages/RolloutDetail';
import { Rollouts } from './pages/Rollouts';
import { SignIn } from './pages/SignIn';
import { Submit } from './pages/Submit';
import { Credentials } from './pages/Credentials';

type Session =
  | { readonly state: 'loading' }
  | { readonly state: 'failed'; readonly message: string }
  | { readonly state: 'signed-out'; readonly options: SignInOptions }
  | { readonly state: 'signed-in'; readonly actor: Actor };

export function App() {
  const { route, navigate } = useRouter();
  const [session, setSession] = useState<Session>({ state: 'loading' });

  useEffect(() => {
    Promise.all([api.me(), api.signInOptions()])
      .then(([actor, options]) => {
        setSession(actor === undefined ? { state: 'signed-out', options } : { state: 'signed-in', actor });
      })
      .catch((failure: unknown) => {
        setSession({ state: 'failed', message: messageOf(failure) });
      });
  }, []);

  // The first page takes input: marked for the browser test's "first page interactive" measurement.
  const settled = session.state !== 'loading';
  useEffect(() => {
    if (settled && performance.getEntriesByName('console-interactive').length === 0)
      performance.mark('console-interactive');
  }, [settled]);

  // `/` opens the person's first page.
  useEffect(() => {
    if (session.state !== 'signed-in' || route.page !== 'home') return;
    const home = homeFor(session.actor);
    if (home !== undefined) navigate(home, true);
  }, [session, route, navigate]);

  const signOut = () => {
    api
      .logout()
      .then(() => api.signInOptions())
      .then((options) => {
        setSession({ state: 'signed-out', options });
      })
      .catch((failure: unknown) => {
        setSession({ state: 'failed', message: messageOf(failure) });
      });
  };

  return (
    <NavigationProvider value={navigate}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <span className="brand">EUCORA</span>
        {session.state === 'signed-in' && (
          <>
            <nav aria-label="Main">
              <ul>
                {navigationFor(session.actor).map((item) => (
                  <li key={item.label}>
                    <Link route={item.route} current={pathOf(item.route) === pathOf(route)}>
                      {item.label}
                    </Link>
                  </li>
                ))}
              </ul>
            </nav>
            <div className="who">
              <span>
                {session.actor.display_name}{' '}
                <span className="muted">({session.actor.roles.map(roleLabel).join(', ')})</span>
              </span>
              <button type="button" onClick={signOut}>
                Sign out
              </button>
            </div>
          </>
        )}
      </header>
      {session.state === 'loading' && (
        <main id="main">
          <p aria-live="polite">Loading…</p>
        </main>
      )}
      {session.state === 'failed' && (
        <main id="main">
          <Alert>{session.message}</Alert>
        </main>
      )}
      {session.state === 'signed-out' && (
        <SignIn
          options={session.options}
          onSignedIn={(actor) => {
            setSession({ state: 'signed-in', actor });
          }}
        />
      )}
      {session.state === 'signed-in' && <Page route={route} actor={session.actor} />}
    </NavigationProvider>
  );
}

function Page(props: { route: Route; actor: Actor }) {
  switch (props.route.page) {
    case 'cab':
      return <CabQueue actor={props.actor} />;
    case 'rollouts':
      return <Rollouts key={pathOf(props.route)} actor={props.actor} filters={props.route.filters} />;
    case 'rollout':
      return <RolloutDetail key={props.route.id} actor={props.actor} id={props.route.id} />;
    case 'submit':
      return hasRole(props.actor, 'submitter') ? <Submit /> : <NotYours what="submit intents" />;
    case 'credentials':
      return props.actor.roles.includes('admin') ? (
        <Credentials />
      ) : (
        <NotYours what="manage connector credentials" />
      );
    case 'home':
      return (
        <main id="main">
          <h1>Welcome</h1>
          <p>Your roles open no page of this console yet.</p>
        </main>
      );
    default:
      return (
        <main id="main">
          <h1>Not found</h1>
          <p>This console has no such page.</p>
        </main>
      );
  }
}

function NotYours(props: { what: string }) {
  return (
    <main id="main">
      <h1>Not for your roles</h1>
      <p>Your roles do not let you {props.what}.</p>
    </main>
  );
}
