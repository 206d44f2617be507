/**
 * A separate process that appends audit events as fast as it can, for the concurrent-writer test of the
 * hash chain (test/integration/audit-chain.test.ts): its own connection pool, several transactions at once.
 * Usage: tsx test/helpers/audit-chain-writer.ts <database url> <writer name> <events per tenant> <tenant>...
 */
import { randomUUID } from 'node:crypto';
import { openDatabase } from '../../db/client';
import { asTenantId } from '../../db/tenant-id';
import { DataStore } from '../../db/tenant-store';

async function main(): Promise<void> {
  const [url, writer, perTenant, ...tenants] = process.argv.slice(2);
  if (url === undefined || writer === undefined || perTenant === undefined) throw new Error('usage');
  const handle = await openDatabase({ url, poolSize: 4 });
  const store = new DataStore(handle.db);
  try {
    const work = tenants.flatMap((tenant) =>
      Array.from({ length: Number(perTenant) }, (_, index) => async () => {
        const scope = store.forTenant(asTenantId(tenant));
        // Half alone, half inside a wider transaction, as the API and the worker write them.
        const event = {
          eventKey: `${writer}:${String(index)}`,
          eventType: 'CHAIN_LOAD',
          intentId: null,
          correlationId: randomUUID(),
          requestId: null,
          actor: writer,
          payload: { writer, index, ratio: index / 7 },
        };
        if (index % 2 === 0) await scope.events.append(event);
        else await scope.transaction((tx) => tx.events.append(event));
      }),
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < work.length) {
          const job = work[next];
          next += 1;
          await job?.();
        }
      }),
    );
  } finally {
    await handle.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
