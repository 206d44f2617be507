import { CompleteAsyncError, activityInfo } from '@temporalio/activity';

export interface BareActivities {
  assess(index: number): Promise<number>;
  deploy(ring: string, park: boolean): Promise<number>;
}

/**
 * `deploy` hands its task token to the benchmark driver over HTTP (the bare stand-in for a connector)
 * and completes asynchronously: the driver completes it at once, or only counts it when it parks.
 */
export function createBareActivities(driverUrl: string): BareActivities {
  return {
    assess(index) {
      return Promise.resolve(index % 100);
    },
    async deploy(ring, park) {
      const response = await fetch(`${driverUrl}/${park ? 'parked' : 'deploy'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ring, task_token: Buffer.from(activityInfo().taskToken).toString('base64') }),
      });
      await response.arrayBuffer();
      if (response.status !== 204) throw new Error(`driver answered ${String(response.status)}`);
      throw new CompleteAsyncError();
    },
  };
}
