import type { Actor, IntentStatus, Ring } from '../api/model';
import { INTENT_STATUSES, RINGS } from '../api/model';
import type { RolloutFilters } from '../api/client';
import { hasRole } from './permissions';

/** The console's pages; the browser's path is the source of truth, so links and reloads work. */
export type Route =
  | { readonly page: 'cab' }
  | { readonly page: 'submit' }
  | { readonly page: 'rollouts'; readonly filters: RolloutFilters }
  | { readonly page: 'rollout'; readonly id: string }
  | { readonly page: 'credentials' }
  | { readonly page: 'home' }
  | { readonly page: 'not-found'; readonly path: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function oneOf<T extends string>(values: readonly T[], value: string | null): T | undefined {
  return values.find((candidate) => candidate === value);
}

export function parseRoute(pathname: string, search: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  const query = new URLSearchParams(search);
  if (path === '/') return { page: 'home' };
  if (path === '/cab') return { page: 'cab' };
  if (path === '/submit') return { page: 'submit' };
  if (path === '/credentials') return { page: 'credentials' };
  if (path === '/rollouts') {
    const status: IntentStatus | undefined = oneOf(INTENT_STATUSES, query.get('status'));
    const ring: Ring | undefined = oneOf(RINGS, query.get('ring'));
    const app = query.get('app_name') ?? '';
    const submitter = query.get('submitter') ?? '';
    return {
      page: 'rollouts',
      filters: {
        ...(status === undefined ? {} : { status }),
        ...(ring === undefined ? {} : { ring }),
        ...(app === '' ? {} : { app_name: app }),
        ...(submitter === '' ? {} : { submitter }),
      },
    };
  }
  const detail = /^\/rollouts\/([^/]+)$/.exec(path);
  if (detail?.[1] !== undefined && UUID.test(detail[1])) return { page: 'rollout', id: detail[1] };
  return { page: 'not-found', path };
}

export function pathOf(route: Route): string {
  switch (route.page) {
    case 'home':
      return '/';
    case 'rollouts': {
      const query = new URLSearchParams(
        Object.entries(route.filters).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
        ),
      ).toString();
      return query === '' ? '/rollouts' : `/rollouts?${query}`;
    }
    case 'rollout':
      return `/rollouts/${encodeURIComponent(route.id)}`;
    case 'not-found':
      return route.path;
    default:
      return `/${route.page}`;
  }
}

export interface NavItem {
  readonly label: string;
  readonly route: Route;
}

/** The pages this person's roles open, in the order of their work. */
export function navigationFor(actor: Actor): NavItem[] {
  return [
    ...(hasRole(actor, 'cab_member') ? [{ label: 'CAB queue', route: { page: 'cab' } as const }] : []),
    ...(hasRole(actor, 'submitter', 'cab_member', 'operator', 'auditor')
      ? [{ label: 'Rollouts', route: { page: 'rollouts', filters: {} } as const }]
      : []),
    ...(hasRole(actor, 'submitter') ? [{ label: 'Submit', route: { page: 'submit' } as const }] : []),
    ...(actor.roles.includes('admin')
      ? [{ label: 'Credentials', route: { page: 'credentials' } as const }]
      : []),
  ];
}

/** Where `/` takes this person: their first page. */
export function homeFor(actor: Actor): Route | undefined {
  return navigationFor(actor)[0]?.route;
}
