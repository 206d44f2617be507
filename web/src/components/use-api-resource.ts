import { useCallback, useEffect, useState } from 'react';
import { messageOf } from '../api/problem';

/**
 * What a page reads from the API: the value once it came, the last refusal in words, and a way to read it
 * again. `read` is the page's (memoized) request; a new one is read at once.
 */
export function useApiResource<T>(read: () => Promise<T>): {
  value: T | undefined;
  error: string | undefined;
  reload: () => void;
} {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string>();
  const reload = useCallback(() => {
    read()
      .then((next) => {
        setValue(next);
        setError(undefined);
      })
      .catch((failure: unknown) => {
        setError(messageOf(failure));
      });
  }, [read]);
  useEffect(reload, [reload]);
  return { value, error, reload };
}
