/**
 * A worker process's SIEM forwarder alone, for the crash test: reads its database and the local ingestion
 * endpoint from the environment, forwards until killed, and prints `forwarding` once running.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { openDatabase } from '../../db/client';
import { SiemOutboxRepository } from '../../db/repositories/siem-outbox';
import { createLogger } from '../../runtime/logger';
import { SiemForwarder, logsIngestionUploader } from '../../runtime/siem-forwarder';

/** A credential fed a static token: the local endpoint accepts exactly that one. */
class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  getToken(): Promise<AccessToken> {
    return Promise.resolve({ token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function run(): Promise<void> {
  const database = await openDatabase({ url: required('DATABASE_URL'), poolSize: 2 });
  const forwarder = new SiemForwarder({
    outbox: new SiemOutboxRepository(database.db),
    uploader: logsIngestionUploader(
      {
        ingestionEndpoint: required('SIEM_INGESTION_ENDPOINT'),
        ruleId: required('SIEM_RULE_ID'),
        stream: required('SIEM_STREAM'),
      },
      {
        credential: new StaticTokenCredential(required('SIEM_TEST_TOKEN')),
        clientOptions: {
          agent: new https.Agent({ ca: readFileSync(required('SIEM_TEST_CA_FILE'), 'utf8') }),
        },
      },
    ),
    logger: createLogger({ level: 'warn' }),
    batchSize: Number(required('SIEM_TEST_BATCH_SIZE')),
    pollIntervalMs: 20,
    retry: { baseMs: 10, maxMs: 50 },
    leaseMs: Number(required('SIEM_TEST_LEASE_MS')),
  });
  forwarder.start();
  process.stdout.write('forwarding\n');
}

void run();
