/** A Prisma client for one CLI command: pool of one, always disconnected afterwards. */
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import type { Config } from '../../lib/config.js';

export async function withPrisma<T>(config: Config, fn: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const prisma = createPrisma(config, { max: 1 });
  try {
    return await fn(prisma);
  } finally {
    await prisma.$disconnect();
  }
}
