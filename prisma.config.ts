// Prisma CLI configuration. Only `prisma generate` runs on our machines; the URL is
// here so that `prisma migrate status` works where the schema engine is available.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/bulwark' },
});
