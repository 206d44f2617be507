import type { Client } from '@temporalio/client';

/** The Temporal calls a dying API process can stop at. */
export type DyingCall = 'start' | 'startUpdate' | 'signal';

export interface DyingTemporal {
  /** The client to give the process that dies. */
  readonly client: Client;
  /** Ends the hung calls (they reject) once the test no longer needs the "dead" request. */
  release(): void;
}

function bound(target: object, property: string | symbol, receiver: unknown): unknown {
  const value: unknown = Reflect.get(target, property, receiver);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/**
 * A Temporal client whose process "is SIGKILLed" at one call: with `before`, the call never goes out;
 * with `after`, it takes effect and its answer never comes back. Nothing the process would do after that
 * point runs (no error handling, no cleanup), as with a real crash.
 */
export function dyingTemporal(client: Client, call: DyingCall, when: 'before' | 'after'): DyingTemporal {
  const hung: (() => void)[] = [];
  const hang = () =>
    new Promise<never>((_resolve, reject) => {
      hung.push(() => {
        reject(new Error('the process is gone'));
      });
    });
  const dieAt =
    (real: (...args: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]): Promise<never> => {
      if (when === 'after') await real(...args);
      return hang();
    };
  const handleOf = (handle: object) =>
    new Proxy(handle, {
      get(target, property, receiver) {
        const value = bound(target, property, receiver);
        return property === call ? dieAt(value as (...args: unknown[]) => Promise<unknown>) : value;
      },
    });
  const workflow = new Proxy(client.workflow, {
    get(target, property, receiver) {
      const value = bound(target, property, receiver);
      // A submission starts its workflow with update-with-start; a retried one with a plain start.
      if ((property === 'start' || property === 'executeUpdateWithStart') && call === 'start') {
        return dieAt(value as (...args: unknown[]) => Promise<unknown>);
      }
      if (property === 'getHandle') {
        return (...args: unknown[]) => handleOf((value as (...a: unknown[]) => object)(...args));
      }
      return value;
    },
  });
  // Control signals go out through the service (with a request id of their own), not through a handle.
  const workflowService = new Proxy(client.workflowService, {
    get(target, property, receiver) {
      const value = bound(target, property, receiver);
      return property === 'signalWorkflowExecution' && call === 'signal'
        ? dieAt(value as (...args: unknown[]) => Promise<unknown>)
        : value;
    },
  });
  const dying = new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'workflow') return workflow;
      if (property === 'workflowService') return workflowService;
      return bound(target, property, receiver);
    },
  });
  return {
    client: dying,
    release: () => {
      for (const end of hung.splice(0)) end();
    },
  };
}
