import { and, eq } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { evidencePacks } from '../schema';
import type { EvidencePack } from '../../policy/evidence-pack';

export type EvidencePackRow = typeof evidencePacks.$inferSelect;

export class EvidencePackRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /** Stores a pack once per content hash; storing the same content again returns the first row. */
  async store(pack: { contentHash: string; content: EvidencePack; createdBy: string }): Promise<{
    row: EvidencePackRow;
    created: boolean;
  }> {
    const [inserted] = await this.db
      .insert(evidencePacks)
      .values({ ...pack, tenantId: this.tenantId })
      .onConflictDoNothing({ target: [evidencePacks.tenantId, evidencePacks.contentHash] })
      .returning();
    if (inserted !== undefined) return { row: inserted, created: true };
    const [existing] = await this.db
      .select()
      .from(evidencePacks)
      .where(and(eq(evidencePacks.tenantId, this.tenantId), eq(evidencePacks.contentHash, pack.contentHash)));
    if (existing === undefined) throw new Error('evidence pack vanished between insert and read');
    return { row: existing, created: false };
  }

  async get(id: string): Promise<EvidencePackRow | undefined> {
    const [row] = await this.db
      .select()
      .from(evidencePacks)
      .where(and(eq(evidencePacks.tenantId, this.tenantId), eq(evidencePacks.id, id)));
    return row;
  }
}
