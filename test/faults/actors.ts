import type { PendingDeployment } from '../../api/schemas/connectors';
import { delay } from './infrastructure';
import { retryable } from './traffic';
import type { ApiClient } from './traffic';

/** A report the API acknowledged (2xx): the audit trail must hold it. */
export interface AcknowledgedReport {
  readonly ringDeploymentId: string;
  readonly final: boolean;
  readonly successCount: number;
  readonly failureCount: number;
  readonly outcome: string;
}

/** A report the API refused with a 4xx: a connector following the contract never earns one. */
export interface RefusedReport {
  readonly ringDeploymentId: string;
  readonly final: boolean;
  readonly status: number;
  readonly problemType: string | undefined;
}

export interface ConnectorBehaviour {
  /** Interim reports (heartbeats) before the final one. */
  readonly interimReports: number;
  readonly intervalMs: number;
  /** Identical final reports sent at once (the concurrent-finals scenario). */
  readonly concurrentFinals: number;
}

const DEVICES = 20;
/** How often the connector and the CAB member look for work: often enough for a quick run, no flood. */
const POLL_MS = 500;

/**
 * A connector over HTTP, like the reference connector: polls both lists, carries out each item (interim
 * reports, then the final one), sends a report again while it is answered 503 or not at all. An app
 * named `…-fail-<RING>` fails half its devices in that ring, so its gate fails and the rollout rolls back.
 */
export class ConnectorActor {
  readonly acknowledged: AcknowledgedReport[] = [];
  readonly refused: RefusedReport[] = [];
  private readonly working = new Set<string>();
  private readonly done = new Set<string>();
  private readonly finalSent = new Set<string>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private paused = false;

  constructor(
    private readonly client: ApiClient,
    private behaviour: ConnectorBehaviour,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Holds reports back (the items stay pending) until `resume`. */
  hold(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** A new scenario: its behaviour, nothing refused yet, not held. */
  reset(behaviour: ConnectorBehaviour): void {
    this.behaviour = behaviour;
    this.refused.length = 0;
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const tasks = new Set<Promise<void>>();
    while (!this.stopped) {
      if (!this.paused) {
        for (const item of await this.pending()) {
          if (this.working.has(item.ring_deployment_id) || this.done.has(item.ring_deployment_id)) continue;
          this.working.add(item.ring_deployment_id);
          const task = this.carryOut(item).finally(() => {
            this.working.delete(item.ring_deployment_id);
            tasks.delete(task);
          });
          tasks.add(task);
        }
      }
      await delay(POLL_MS);
    }
    await Promise.all(tasks);
  }

  /** Items of both lists; nothing when the API does not answer (the next poll asks again). */
  async pending(): Promise<PendingDeployment[]> {
    const lists = await Promise.all(
      ['/connectors/pending-deployments', '/connectors/pending-rollbacks'].map(async (path) => {
        const answer = await this.client.request('GET', path);
        return answer.status === 200 && Array.isArray(answer.body)
          ? (answer.body as PendingDeployment[])
          : [];
      }),
    );
    return lists.flat();
  }

  private counts(item: PendingDeployment): { success: number; failure: number } {
    const failing = item.action === 'DEPLOY' && item.app_name === `FaultApp-fail-${item.ring}`;
    return failing ? { success: DEVICES / 2, failure: DEVICES / 2 } : { success: DEVICES, failure: 0 };
  }

  private async carryOut(item: PendingDeployment): Promise<void> {
    const { success, failure } = this.counts(item);
    const id = item.ring_deployment_id;
    // An item taken up again after its final report was sent goes straight to the final report.
    const interim = this.finalSent.has(id) ? 0 : this.behaviour.interimReports;
    for (let step = 1; step <= interim; step += 1) {
      const fraction = step / (interim + 1);
      const result = await this.send(item, {
        success: Math.floor(success * fraction),
        failure: Math.floor(failure * fraction),
        final: false,
      });
      if (result !== 'ok') return;
      await delay(this.behaviour.intervalMs);
      while (this.paused && !this.stopped) await delay(100);
    }
    this.finalSent.add(id);
    const finals = Array.from({ length: Math.max(1, this.behaviour.concurrentFinals) }, () =>
      this.send(item, { success, failure, final: true }),
    );
    const results = await Promise.all(finals);
    if (results.every((result) => result !== 'retry')) this.done.add(id);
  }

  /** Sends one report until it is answered; 'retry' when the API kept failing (the next poll retries). */
  private async send(
    item: PendingDeployment,
    report: { success: number; failure: number; final: boolean },
  ): Promise<'ok' | 'refused' | 'retry'> {
    const body = {
      ring_deployment_id: item.ring_deployment_id,
      correlation_id: item.correlation_id,
      ring: item.ring,
      connector_type: item.connector_type,
      action: item.action,
      connector_object_id: `fault-${item.ring_deployment_id.slice(0, 8)}`,
      success_count: report.success,
      failure_count: report.failure,
      final: report.final,
    };
    for (let tries = 0; tries < 40 && !this.stopped; tries += 1) {
      const answer = await this.client.request('POST', '/connectors/update-deployment-status', body);
      if (answer.status === 200) {
        this.acknowledged.push({
          ringDeploymentId: item.ring_deployment_id,
          final: report.final,
          successCount: report.success,
          failureCount: report.failure,
          outcome: (answer.body as { outcome: string }).outcome,
        });
        return 'ok';
      }
      if (!retryable(answer)) {
        this.refused.push({
          ringDeploymentId: item.ring_deployment_id,
          final: report.final,
          status: answer.status,
          problemType: (answer.body as { type?: string } | undefined)?.type,
        });
        return 'refused';
      }
      await delay(Math.min(200 * (tries + 1), 1_000));
    }
    return 'retry';
  }
}

/** A CAB member approving whatever waits in the queue, each decision under its own Idempotency-Key. */
export class CabActor {
  readonly decided = new Set<string>();
  readonly refused: { intentId: string; status: number; problemType: string | undefined }[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private paused = false;

  constructor(private readonly client: ApiClient) {}

  start(): void {
    this.loop = this.run();
  }

  hold(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  reset(): void {
    this.refused.length = 0;
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.paused) {
        const answer = await this.client.request('GET', '/cab/pending');
        const page =
          answer.status === 200
            ? (answer.body as { items?: { intent_id: string }[] } | undefined)
            : undefined;
        const items = page?.items ?? [];
        await Promise.all(
          items
            .filter((item) => !this.decided.has(item.intent_id))
            .map((item) => this.decide(item.intent_id)),
        );
      }
      await delay(POLL_MS);
    }
  }

  private async decide(intentId: string): Promise<void> {
    for (let tries = 0; tries < 60 && !this.stopped; tries += 1) {
      const answer = await this.client.request(
        'POST',
        `/cab/${intentId}/decision`,
        { decision: 'APPROVED', comments: 'fault suite' },
        { 'Idempotency-Key': `cab-${intentId}` },
      );
      if (answer.status === 200) {
        this.decided.add(intentId);
        return;
      }
      if (!retryable(answer)) {
        this.refused.push({
          intentId,
          status: answer.status,
          problemType: (answer.body as { type?: string } | undefined)?.type,
        });
        this.decided.add(intentId);
        return;
      }
      await delay(Math.min(200 * (tries + 1), 1_000));
    }
  }
}
