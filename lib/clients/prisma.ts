/** Prisma client factory (Prisma 7, driver adapter over node-postgres; no native engine). */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import type { Config } from '../config.js';

export type { PrismaClient } from '../../generated/prisma/client.js';
export type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace.js';

export interface PrismaOptions {
  /** Pool size. Default: 10. */
  max?: number;
}

export function createPrisma(config: Pick<Config, 'databaseUrl'>, options: PrismaOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: config.databaseUrl,
    max: options.max ?? 10,
    // Fail fast when Postgres is unreachable so jobs retry with backoff instead of hanging.
    connectionTimeoutMillis: 5000,
  });
  return new PrismaClient({ adapter });
}
