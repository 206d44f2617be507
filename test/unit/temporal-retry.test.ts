import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import type { InterceptingListener, NextCall, StatusObject } from '@grpc/grpc-js';

type InterceptingCallInterface = ReturnType<NextCall>;
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { GrpcRetryOptions } from '@temporalio/client';
import { deadlineAwareRetryInterceptor, withRetryDeadline } from '../../runtime/temporal-retry';
import { freePort } from '../helpers/free-port';

type Interceptor = ReturnType<typeof deadlineAwareRetryInterceptor>;

/** What a fake call does with what the interceptor passes down: nothing to check there. */
const ignore = (): void => undefined;

/** A unary gRPC call chain whose attempts fail with UNAVAILABLE until `failures` of them have, then answer. */
function flakyCalls(failures: number) {
  const attempts: number[] = [];
  const nextCall = (): InterceptingCallInterface => ({
    start(_metadata: Metadata, listener: InterceptingListener) {
      attempts.push(Date.now());
      const failing = attempts.length <= failures;
      setImmediate(() => {
        // As grpc-js's unary calls do: a message before the status, null when the server sent none.
        listener.onReceiveMessage(failing ? null : 'answer');
        listener.onReceiveStatus({
          code: failing ? grpcStatus.UNAVAILABLE : grpcStatus.OK,
          details: failing ? 'No connection established' : '',
          metadata: new Metadata(),
        });
      });
    },
    sendMessage: ignore,
    sendMessageWithContext: ignore,
    startRead: ignore,
    halfClose: ignore,
    cancelWithStatus: ignore,
    getPeer: () => 'fake',
    getAuthContext: () => null,
  });
  return { attempts, nextCall };
}

/** Runs one call through `interceptor`; resolves with its final status and the message it received. */
function callThrough(
  interceptor: Interceptor,
  nextCall: () => InterceptingCallInterface,
  deadline?: Date | number,
) {
  return new Promise<{ status: StatusObject; message: unknown }>((resolve) => {
    let message: unknown;
    const call = interceptor({ deadline, method_definition: {} } as never, nextCall);
    call.start(new Metadata(), {
      onReceiveMetadata: ignore,
      onReceiveMessage(received: unknown) {
        message = received;
      },
      onReceiveStatus(status: StatusObject) {
        resolve({ status, message });
      },
    });
    call.sendMessage('request');
    call.halfClose();
  });
}

const every50ms: GrpcRetryOptions = {
  retryableDecider: (attempt, status) => attempt < 10 && status.code === grpcStatus.UNAVAILABLE,
  delayFunction: () => 50,
};

describe('deadline-aware retry of transient Temporal failures', () => {
  it('retries as the SDK does when the call has no deadline', async () => {
    const { attempts, nextCall } = flakyCalls(3);
    const { status, message } = await callThrough(deadlineAwareRetryInterceptor(every50ms), nextCall);
    expect(status.code).toBe(grpcStatus.OK);
    expect(message).toBe('answer');
    expect(attempts).toHaveLength(4);
  });

  it('gives up after the base policy’s attempts', async () => {
    const { attempts, nextCall } = flakyCalls(100);
    const { status } = await callThrough(deadlineAwareRetryInterceptor(every50ms), nextCall);
    expect(status.code).toBe(grpcStatus.UNAVAILABLE);
    expect(attempts).toHaveLength(10);
  });

  it.each([
    ['a Date', (at: number) => new Date(at)],
    ['epoch milliseconds', (at: number) => at],
  ])('makes no retry whose back-off would end past the deadline (%s)', async (_kind, deadlineOf) => {
    const { attempts, nextCall } = flakyCalls(100);
    const deadline = Date.now() + 120;
    const { status } = await callThrough(
      deadlineAwareRetryInterceptor(every50ms),
      nextCall,
      deadlineOf(deadline),
    );
    // The last failure itself, not a DEADLINE_EXCEEDED of an attempt started too late.
    expect(status.code).toBe(grpcStatus.UNAVAILABLE);
    // How many attempts fit depends on how busy the machine is (at most three: 0, 50 and 100 ms); what
    // holds whatever the load is that none starts at or past the deadline. Retrying at all is the next test's.
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.length).toBeLessThanOrEqual(3);
    for (const at of attempts) expect(at).toBeLessThan(deadline);
  });

  it('makes no retry past the retry deadline of withRetryDeadline, however late the call’s own deadline', async () => {
    // Every back-off (50 ms) ends past the retry deadline, so whatever the machine's load: one attempt.
    // Without the retry deadline the call's own (a minute away) would allow all ten.
    const { attempts, nextCall } = flakyCalls(100);
    const { status } = await withRetryDeadline(Date.now() + 10, () =>
      callThrough(deadlineAwareRetryInterceptor(every50ms), nextCall, new Date(Date.now() + 60_000)),
    );
    expect(status.code).toBe(grpcStatus.UNAVAILABLE);
    expect(attempts).toHaveLength(1);
  });

  it('still retries a failure whose back-off ends before the deadline, and then succeeds', async () => {
    const { attempts, nextCall } = flakyCalls(2);
    const { status } = await callThrough(
      deadlineAwareRetryInterceptor(every50ms),
      nextCall,
      new Date(Date.now() + 10_000),
    );
    expect(status.code).toBe(grpcStatus.OK);
    expect(attempts).toHaveLength(3);
  });

  it('answers an unreachable Temporal within the request budget (the SDK default starts an attempt past it)', async () => {
    const address = `127.0.0.1:${String(await freePort())}`;
    const budgetMs = 2_000;
    const attempt = async (interceptor: Interceptor) => {
      const connection = Connection.lazy({ address, interceptors: [interceptor] });
      const client = new Client({ connection });
      const started = Date.now();
      try {
        const error = await connection
          .withDeadline(started + budgetMs, () => client.workflowService.getSystemInfo({}))
          .then(
            () => undefined,
            (failure: unknown) => failure as { code?: number; details?: string },
          );
        return { error, deadline: started + budgetMs, at: Date.now() };
      } finally {
        await connection.close();
      }
    };
    const ours = await attempt(deadlineAwareRetryInterceptor());
    expect(ours.error?.code).toBe(grpcStatus.UNAVAILABLE);
    expect(ours.at).toBeLessThanOrEqual(ours.deadline + 250);

    // What it replaces: the SDK's own back-off sleeps through the deadline, then fails the late attempt.
    const sdk = await attempt(makeGrpcRetryInterceptor(defaultGrpcRetryOptions()));
    expect(sdk.error?.code).toBe(grpcStatus.DEADLINE_EXCEEDED);
  });
});
