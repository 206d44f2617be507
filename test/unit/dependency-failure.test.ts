import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import type { ServiceError as GrpcServiceError } from '@grpc/grpc-js';
import {
  ActivityCompletionError,
  ServiceError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { DrizzleQueryError } from 'drizzle-orm';
import { DatabaseError } from 'pg';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  TimeoutError,
} from 'redis';
import { problemHandler } from '../../api/middleware/problem-handler';
import { sessionStoreFailures } from '../../api/session';
import {
  DependencyUnavailableError,
  failureSummary,
  unavailableDependency,
} from '../../runtime/dependency-failure';
import { createLogger } from '../../runtime/logger';

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect', address: '127.0.0.1' });
}

function pgError(code: string, message: string): DatabaseError {
  const error = new DatabaseError(message, message.length, 'error');
  error.code = code;
  error.severity = 'FATAL';
  return error;
}

/** As drizzle reports a failed query: the SQL, its parameters, and the driver's error as the cause. */
function failedQuery(cause: unknown): DrizzleQueryError {
  return new DrizzleQueryError(
    'select * from connector_credentials where key_hash = $1',
    ['s3cr3t-param'],
    cause as Error,
  );
}

function grpcError(code: grpcStatus, details: string): GrpcServiceError {
  return Object.assign(new Error(`${String(code)} ${grpcStatus[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

const databaseFailures: [string, unknown][] = [
  ['ECONNREFUSED', systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
  ['ECONNRESET', systemError('ECONNRESET', 'read ECONNRESET')],
  ['ETIMEDOUT', systemError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432')],
  ['57P01 admin_shutdown', pgError('57P01', 'terminating connection due to administrator command')],
  [
    '57P02 crash_shutdown',
    pgError('57P02', 'terminating connection because of crash of another server process'),
  ],
  ['57P03 cannot_connect_now', pgError('57P03', 'the database system is starting up')],
  ['08006 connection_failure', pgError('08006', 'connection failure')],
  ['08001 unable to connect', pgError('08001', 'could not connect')],
  ['53300 too_many_connections', pgError('53300', 'sorry, too many clients already')],
  ['57014 statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
  ['pool timeout', new Error('timeout exceeded when trying to connect')],
  ['connection timeout', new Error('Connection terminated due to connection timeout')],
  ['Connection terminated', new Error('Connection terminated unexpectedly')],
  ['query_timeout', new Error('Query read timeout')],
  [
    'a client that lost its connection',
    new Error('Client has encountered a connection error and is not queryable'),
  ],
];

const temporalFailures: [string, unknown][] = [
  [
    'UNAVAILABLE',
    new ServiceError('Failed to start Workflow', {
      cause: grpcError(grpcStatus.UNAVAILABLE, 'No connection established'),
    }),
  ],
  [
    'DEADLINE_EXCEEDED',
    new ServiceError('Failed to query Workflow', {
      cause: grpcError(grpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'),
    }),
  ],
  [
    'RESOURCE_EXHAUSTED',
    new ServiceError('Failed to signal Workflow', {
      cause: grpcError(grpcStatus.RESOURCE_EXHAUSTED, 'namespace rate limit exceeded'),
    }),
  ],
  ['a bare gRPC UNAVAILABLE (a service call)', grpcError(grpcStatus.UNAVAILABLE, 'Connection dropped')],
  [
    'an update that timed out',
    new WorkflowUpdateRPCTimeoutOrCancelledError('Timed out', {
      cause: grpcError(grpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'),
    }),
  ],
  [
    'a query no worker answers',
    new ServiceError('Failed to query Workflow', {
      cause: grpcError(
        grpcStatus.FAILED_PRECONDITION,
        'no poller seen for task queue recently, worker may be down',
      ),
    }),
  ],
  [
    'an activity completion that got no answer',
    Object.assign(new ActivityCompletionError('Failed to complete activity'), {
      cause: grpcError(grpcStatus.UNAVAILABLE, 'No connection established'),
    }),
  ],
];

const notDependencyFailures: [string, unknown][] = [
  ['a unique violation', failedQuery(pgError('23505', 'duplicate key value violates unique constraint'))],
  ['a syntax error', failedQuery(pgError('42601', 'syntax error at or near "selec"'))],
  [
    'a gRPC NOT_FOUND',
    new ServiceError('Failed to describe', { cause: grpcError(grpcStatus.NOT_FOUND, 'workflow not found') }),
  ],
  ['a gRPC INVALID_ARGUMENT', grpcError(grpcStatus.INVALID_ARGUMENT, 'bad request')],
  ['a plain error', new Error('something broke')],
  ['a string', 'nope'],
  ['undefined', undefined],
];

describe('which failures are a dependency being unavailable', () => {
  it.each(databaseFailures)('PostgreSQL %s, as drizzle reports it, is the database', (_name, cause) => {
    expect(unavailableDependency(failedQuery(cause))).toBe('database');
  });

  it.each(databaseFailures.filter(([, error]) => error instanceof DatabaseError))(
    'PostgreSQL %s, raised by the driver itself, is the database',
    (_name, error) => {
      expect(unavailableDependency(error)).toBe('database');
    },
  );

  it.each(temporalFailures)('Temporal %s is temporal', (_name, error) => {
    expect(unavailableDependency(error)).toBe('temporal');
  });

  it.each<[string, Error]>([
    ['the client is offline', new ClientOfflineError()],
    ['the client is closed', new ClientClosedError()],
    ['a command timed out', new TimeoutError()],
    ['connecting timed out', new ConnectionTimeoutError()],
    ['the socket closed', new SocketClosedUnexpectedlyError()],
  ])('Redis: %s is the session store', (_name, error) => {
    expect(unavailableDependency(error)).toBe('session_store');
  });

  it('a failure a component already attributed keeps its dependency', () => {
    const wrapped = new DependencyUnavailableError('session_store', { cause: new Error('x') });
    expect(unavailableDependency(wrapped)).toBe('session_store');
    expect(unavailableDependency(new Error('outer', { cause: wrapped }))).toBe('session_store');
  });

  it.each(notDependencyFailures)('%s is not', (_name, error) => {
    expect(unavailableDependency(error)).toBeUndefined();
  });

  it('summarises a failed query without its parameters or SQL', () => {
    const summary = failureSummary(
      failedQuery(systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')),
    );
    expect(summary).toEqual({
      error: 'Error',
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:5432',
    });
    expect(JSON.stringify(summary)).not.toContain('s3cr3t-param');
  });
});

/** An app whose one route fails with `error`, logging into `lines`. */
function failingApp(error: unknown, lines: string[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = express();
  app.get('/fails', () => {
    throw error;
  });
  app.use(problemHandler(createLogger({ level: 'info', destination })));
  return app;
}

describe('the problem handler', () => {
  const cases: [string, unknown, string][] = [
    ...databaseFailures.map(([name, cause]): [string, unknown, string] => [
      `PostgreSQL ${name}`,
      failedQuery(cause),
      'database',
    ]),
    ...temporalFailures.map(([name, error]): [string, unknown, string] => [
      `Temporal ${name}`,
      error,
      'temporal',
    ]),
    [
      'a session store failure',
      new DependencyUnavailableError('session_store', { cause: new ClientOfflineError() }),
      'session_store',
    ],
  ];

  it.each(cases)(
    'answers %s with 503 problem+json and Retry-After, logged once without parameters',
    async (_name, error, dependency) => {
      const lines: string[] = [];
      const res = await request(failingApp(error, lines)).get('/fails');
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.body).toMatchObject({
        status: 503,
        type: 'https://eucora.dev/problems/service-unavailable',
      });
      expect(JSON.stringify(res.body)).not.toMatch(/s3cr3t|127\.0\.0\.1|select/);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ dependency, msg: 'dependency unavailable' });
      expect(lines[0]).not.toContain('s3cr3t-param');
    },
  );

  it('logs an unexpected failed query as a 500 without its parameters', async () => {
    const lines: string[] = [];
    const res = await request(
      failingApp(failedQuery(pgError('23505', 'duplicate key value violates unique constraint')), lines),
    ).get('/fails');
    expect(res.status).toBe(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('duplicate key value');
    expect(lines[0]).not.toContain('s3cr3t-param');
  });
});

describe('the session store', () => {
  it.each<[string, Error]>([
    ['offline', new ClientOfflineError()],
    ['closed', new ClientClosedError()],
    ['timing out', new TimeoutError()],
    ['anything else', new Error('ERR unknown')],
  ])(
    'failing (%s) reaches the error handler as the session store being unavailable',
    async (_name, cause) => {
      const lines: string[] = [];
      const app = express();
      app.use(
        sessionStoreFailures((_req, _res, next) => {
          next(cause);
        }),
      );
      app.get('/', (_req, res) => {
        res.send('never');
      });
      app.use(
        problemHandler(
          createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } }),
        ),
      );
      const res = await request(app).get('/');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ dependency: 'session_store' });
    },
  );
});
