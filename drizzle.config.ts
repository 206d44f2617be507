import { defineConfig } from 'drizzle-kit';

// drizzle-kit generates SQL migrations from db/schema.ts; they are committed and applied at start-up.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
});
