import { delay } from './infrastructure';
import { plans } from './scenario';
import type { Scenario, ScenarioOptions, ScenarioResult, World } from './scenario';

/**
 * The fault scenarios of issue 8. Each drives real traffic through the API while it breaks one part
 * of the system, mends it, lets every intent finish, and reports what the checks found.
 */
export interface ScenarioDefinition {
  readonly name: string;
  readonly options?: ScenarioOptions;
  run(scenario: Scenario): Promise<void>;
}

const low = { risk: 'low', targetRing: 'CANARY', expected: 'COMPLETED' } as const;
const high = { risk: 'high', targetRing: 'CANARY', expected: 'COMPLETED' } as const;
const rollingBack = {
  risk: 'low',
  targetRing: 'PILOT',
  failingRing: 'CANARY',
  expected: 'ROLLED_BACK',
} as const;

export const SCENARIOS: readonly ScenarioDefinition[] = [
  {
    name: 'worker-kill',
    async run(s) {
      // Rings pending, the worker dies; the connector reports meanwhile; a new worker carries on.
      s.connector.hold();
      await s.submit(plans(4, low));
      await s.waitForOpenRings(4);
      await s.worker.kill();
      s.connector.resume();
      await delay(2_000);
      await s.worker.start();
    },
  },
  {
    name: 'temporal-restart',
    async run(s) {
      // Intents waiting for the CAB and rings waiting for the connector when Temporal dies.
      s.connector.hold();
      s.cab.hold();
      await s.submit([...plans(3, high), ...plans(3, low)]);
      await s.waitForCabRequests(3);
      await s.waitForOpenRings(3);
      await s.outage(
        'temporal',
        () => s.stack.temporal.kill(),
        () => s.stack.temporal.start(),
        4_000,
        () => {
          // Decisions, reports and submissions while it is down: each a fast 503, then retried.
          s.cab.resume();
          s.connector.resume();
          void s.submit(plans(2, low));
        },
      );
    },
  },
  {
    name: 'postgres-outage',
    async run(s) {
      await s.submit(plans(3, low));
      s.connector.hold();
      await s.waitForOpenRings(3);
      s.connector.resume();
      void s.submit(plans(4, low));
      await delay(300);
      await s.outage(
        'postgres',
        () => s.stack.postgres.stopImmediately(),
        () => s.stack.postgres.start(),
        4_000,
      );
    },
  },
  {
    name: 'postgres-hang',
    async run(s) {
      // The database stops answering mid-statement (frozen, connections open): every request that
      // waits on it must still be a 503 within 3 s, not a wait for the statement timeout.
      await s.submit(plans(2, low));
      s.connector.hold();
      await s.waitForOpenRings(2);
      s.connector.resume();
      void s.submit(plans(3, low));
      await delay(200);
      await s.outage(
        'postgres',
        () => s.stack.postgres.freeze(),
        () => s.stack.postgres.thaw(),
        5_000,
      );
    },
  },
  {
    name: 'redis-outage',
    async run(s) {
      await s.submit(plans(2, low));
      void s.submit(plans(3, high));
      await delay(300);
      await s.outage(
        'redis',
        () => s.stack.redis.kill(),
        () => s.stack.redis.start(),
        4_000,
      );
    },
  },
  {
    name: 'api-kill-submissions',
    async run(s) {
      // A burst of keyed submissions, the API killed in the middle of it; clients retry their keys.
      void s.submit(plans(12, low));
      await delay(300);
      await s.killApi(1_000);
    },
  },
  {
    name: 'api-kill-reports',
    options: { connector: { interimReports: 2, intervalMs: 100 } },
    async run(s) {
      s.connector.hold();
      await s.submit(plans(5, low));
      await s.waitForOpenRings(5);
      s.connector.resume();
      await delay(250);
      await s.killApi(1_000);
    },
  },
  {
    name: 'concurrent-finals',
    options: { connector: { concurrentFinals: 5, interimReports: 0 } },
    async run(s) {
      await s.submit(plans(3, low));
    },
  },
  {
    name: 'rollback-worker-kill',
    async run(s) {
      // CANARY fails its gate; the worker dies while the rollbacks wait for the connector.
      s.connector.hold();
      await s.submit(plans(3, rollingBack));
      s.connector.resume();
      await s.waitForOpenRings(1, 'ROLLBACK');
      s.connector.hold();
      await s.worker.kill();
      s.connector.resume();
      await delay(1_500);
      await s.worker.start();
    },
  },
  {
    name: 'outage-beyond-heartbeat',
    // Rings must hear from the connector every 3 s; the database is down for longer than that.
    options: {
      policy: { heartbeatTimeoutMs: 3_000 },
      connector: { interimReports: 12, intervalMs: 700 },
    },
    async run(s) {
      s.connector.hold();
      await s.submit(plans(3, low));
      await s.waitForOpenRings(3);
      s.connector.resume();
      await delay(1_500);
      await s.outage(
        'postgres',
        () => s.stack.postgres.stopImmediately(),
        () => s.stack.postgres.start(),
        6_000,
      );
    },
  },
];

export async function runScenario(definition: ScenarioDefinition, world: World): Promise<ScenarioResult> {
  const scenario = await world.scenario(definition.name, definition.options);
  try {
    await definition.run(scenario);
  } catch (error) {
    return scenario.finish(error);
  }
  return scenario.finish();
}
