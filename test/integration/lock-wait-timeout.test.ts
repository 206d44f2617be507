import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { problemHandler } from '../../api/middleware/problem-handler';
import { unavailableDependency } from '../../runtime/dependency-failure';
import { createLogger } from '../../runtime/logger';

/**
 * The 2 s lock-wait path against a real PostgreSQL, two connections: one holds a row lock, the other
 * waits for it under `lock_timeout` (as a request bounds its wait for a concurrent transaction). The
 * waiter must give up after about 2 s with SQLSTATE 55P03, and the API must answer that as a 503 with
 * Retry-After, well inside 3 s, never a 500 or a hang.
 */
const url = process.env.DATABASE_URL;
const describePostgres = url === undefined || url === '' ? describe.skip : describe;

const LOCK_WAIT_MS = 2_000;

describePostgres('a lock wait bounded by lock_timeout (PostgreSQL)', () => {
  const table = `lock_wait_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let holder: pg.Client;
  let database: DatabaseHandle;

  beforeAll(async () => {
    holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query(`create table ${table} (id int primary key, n int not null)`);
    await holder.query(`insert into ${table} values (1, 0)`);
    database = await openDatabase({ url, statementTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
  });

  afterAll(async () => {
    await database.close();
    await holder.query(`drop table if exists ${table}`);
    await holder.end();
  });

  /** Runs, on the product's pool, a transaction that waits for the row lock the holder keeps. */
  async function waitForLockedRow(): Promise<unknown> {
    return database.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('lock_timeout', ${`${String(LOCK_WAIT_MS)}ms`}, true)`);
      await tx.execute(sql.raw(`update ${table} set n = n + 1 where id = 1`));
    });
  }

  it('gives up after the lock timeout with 55P03, which the API answers as a fast 503', async () => {
    await holder.query('begin');
    await holder.query(`select * from ${table} where id = 1 for update`);
    try {
      const started = Date.now();
      const failure = await waitForLockedRow().then(
        () => undefined,
        (error: unknown) => error,
      );
      const waitedMs = Date.now() - started;

      expect(failure).toBeInstanceOf(Error);
      let code: unknown;
      for (let current: unknown = failure; current instanceof Error; current = current.cause) {
        code = (current as Error & { code?: unknown }).code ?? code;
        if (code === '55P03') break;
      }
      expect(code).toBe('55P03');
      expect(waitedMs).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 100);
      expect(waitedMs).toBeLessThan(3_000);
      expect(unavailableDependency(failure)).toBe('database');

      // Through the API's error path: the same failure, raised by a handler, is a 503 with Retry-After.
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      });
      const app = express();
      app.post('/waits', (_req, _res, next) => {
        waitForLockedRow().then(() => {
          next(new Error('the lock was never held'));
        }, next);
      });
      app.use(problemHandler(createLogger({ level: 'info', destination })));
      const answerStarted = Date.now();
      const res = await request(app).post('/waits');
      const answeredMs = Date.now() - answerStarted;
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(answeredMs).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 100);
      expect(answeredMs).toBeLessThan(3_000);
      expect(lines.join('')).toContain('"dependency":"database"');
    } finally {
      await holder.query('rollback');
    }

    // With the lock released the same transaction goes through: the 503 was about the wait only.
    await waitForLockedRow();
    const row = await holder.query<{ n: number }>(`select n from ${table} where id = 1`);
    expect(row.rows[0]?.n).toBe(1);
  });
});
