/**
 * The floor of POST /v1/audit (bench/api.ts): a bare Fastify route doing, with raw parts,
 * only the Redis work the issue requires of an ingest: one script call per event-loop turn
 * (Bulwark's rate limiter makes one per turn and key) and one raw BullMQ job per turn
 * holding that turn's bodies (Bulwark's producer coalesces entries the same way). No
 * authentication, validation, request id, security headers or metrics: what is left of
 * a request once Bulwark's own work is taken out.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { randomPrefix } from './util.js';

interface Turn<T> {
  items: unknown[];
  done: Promise<T>;
}

/** Calls of one turn share one `run(items)`, started at the end of the turn. */
function perTurn<T>(run: (items: unknown[]) => Promise<T>): (item: unknown) => Promise<T> {
  let open: Turn<T> | undefined;
  return (item) => {
    if (!open) {
      const turn: Turn<T> = { items: [], done: undefined as unknown as Promise<T> };
      turn.done = new Promise<T>((resolve, reject) =>
        setImmediate(() => {
          open = undefined;
          run(turn.items).then(resolve, reject);
        }),
      );
      open = turn;
    }
    open.items.push(item);
    return open.done;
  };
}

export async function startRawIngestFloor(redisUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = randomPrefix('raw-ingest');
  const queue = new Queue('raw-ingest', { connection: redis, prefix });
  const limit = perTurn((hits) =>
    redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, `${prefix}:hits`, hits.length),
  );
  const enqueue = perTurn(async (entries) => (await queue.add('entries', { entries })).id);
  const app = Fastify();
  app.post('/ingest', async (request, reply) => {
    await limit(1);
    const entry = { ...(request.body as object), eventId: randomUUID() };
    const jobId = await enqueue(entry);
    return reply.code(202).send({ eventId: entry.eventId, jobId });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${url}/ingest`,
    async close() {
      await app.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.del(`${prefix}:hits`);
      await redis.quit();
    },
  };
}
