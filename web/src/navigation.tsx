import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import type { MouseEvent, ReactNode } from 'react';
import { parseRoute, pathOf } from './lib/routes';
import type { Route } from './lib/routes';

const NavigationContext = createContext<(route: Route) => void>(() => undefined);

/** The current route from the address bar, and a navigate that pushes history without a page load. */
function read(): Route {
  return parseRoute(window.location.pathname, window.location.search);
}

export function useRouter(): { route: Route; navigate: (route: Route, replace?: boolean) => void } {
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const onPop = () => {
      setRoute(read());
    };
    window.addEventListener('popstate', onPop);
    return () => {
      window.removeEventListener('popstate', onPop);
    };
  }, []);
  const navigate = useCallback((next: Route, replace = false) => {
    const path = pathOf(next);
    if (replace) window.history.replaceState(null, '', path);
    else window.history.pushState(null, '', path);
    setRoute(next);
    window.scrollTo(0, 0);
  }, []);
  return { route, navigate };
}

export const NavigationProvider = NavigationContext.Provider;

export function useNavigate(): (route: Route) => void {
  return useContext(NavigationContext);
}

/** A real link (open in a new tab works) that navigates inside the console on a plain click. */
export function Link(props: { route: Route; children: ReactNode; current?: boolean; className?: string }) {
  const navigate = useNavigate();
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.route);
  };
  return (
    <a
      href={pathOf(props.route)}
      onClick={onClick}
      className={props.className}
      aria-current={props.current === true ? 'page' : undefined}
    >
      {props.children}
    </a>
  );
}
