import { and, eq } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { users } from '../schema';

export type UserRow = typeof users.$inferSelect;

export class UserRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /** Creates the user on first sign-in and refreshes name and roles after that. */
  async upsert(user: { subject: string; displayName: string; email?: string; roles: string[]; at: Date }) {
    const [row] = await this.db
      .insert(users)
      .values({
        tenantId: this.tenantId,
        subject: user.subject,
        displayName: user.displayName,
        email: user.email ?? null,
        roles: user.roles,
        lastSeenAt: user.at,
      })
      .onConflictDoUpdate({
        target: [users.tenantId, users.subject],
        set: {
          displayName: user.displayName,
          email: user.email ?? null,
          roles: user.roles,
          lastSeenAt: user.at,
        },
      })
      .returning();
    if (row === undefined) throw new Error('user upsert returned no row');
    return row;
  }

  async get(subject: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(and(eq(users.tenantId, this.tenantId), eq(users.subject, subject)));
    return row;
  }
}
