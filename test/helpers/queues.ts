/** Removing every BullMQ key a test created under its random queue prefix. */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ALERT_QUEUE } from '../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import { AUDIT_VERIFY_QUEUE, AUDIT_WRITE_QUEUE } from '../../lib/contracts/audit.js';
import { REDIS_URL } from './env.js';

export const ALL_QUEUES = [AUDIT_WRITE_QUEUE, AUDIT_VERIFY_QUEUE, ALERT_QUEUE, ALERT_DELIVERY_QUEUE];

/** Obliterate every Bulwark queue under `prefix`, then delete any key left behind. */
export async function obliterateQueues(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const name of ALL_QUEUES) {
      const q = new Queue(name, { connection, prefix });
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close();
      }
    }
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await connection.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await connection.quit();
  }
}
