import net from 'node:net';
import { sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { createTestDatabase } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

/**
 * A TCP proxy in front of PostgreSQL that can go silent: while frozen it holds every byte both ways, as a
 * stopped (SIGSTOP) server or a partition would, and delivers them when thawed.
 */
async function silentProxy(target: URL) {
  let frozen = false;
  const held: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const relay = (from: net.Socket, to: net.Socket) =>
    from.on('data', (chunk) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    relay(client, upstream);
    relay(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: Object.assign(new URL(target.toString()), { host: `127.0.0.1:${String(port)}` }).toString(),
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const deliver of held.splice(0)) deliver();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A transaction whose statement gets no answer: pg gives up after its query timeout but keeps the
 * connection, its statement still running. Returned to the pool as it was, the connection served the next
 * caller inside the dangling transaction — writes that never committed (the fault suite's postgres-hang
 * lost intents) or "current transaction is aborted" (a 500). The connection must be closed instead.
 */
describe('a transaction cut by the client read timeout', () => {
  let db: TestDatabase;
  let proxy: Awaited<ReturnType<typeof silentProxy>>;
  let handle: DatabaseHandle;
  let admin: PgClient;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    if (db.url === undefined) throw new Error('a PostgreSQL database is needed');
    admin = new PgClient({ connectionString: db.url });
    await admin.connect();
    await admin.query('CREATE TABLE read_timeout_probe (id integer)');
    proxy = await silentProxy(new URL(db.url));
    // One connection, so the caller after the cut transaction gets the same pool slot.
    handle = await openDatabase({ url: proxy.url, poolSize: 1, statementTimeoutMs: 400 });
  });

  afterAll(async () => {
    await handle.close();
    await proxy.close();
    await admin.end();
    await db.drop();
  });

  it('closes the connection: the next caller commits on a fresh one, outside the dangling transaction', async () => {
    const cut = handle.db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      proxy.freeze();
      await tx.execute(sql`select 2`);
    });
    await expect(cut).rejects.toThrow();
    proxy.thaw();

    await handle.db.execute(sql`insert into read_timeout_probe (id) values (1)`);
    // Seen from another connection: committed, not held in a transaction nobody will end.
    const { rows } = await admin.query<{ count: string }>('select count(*) from read_timeout_probe');
    expect(rows[0]?.count).toBe('1');
  });
});
