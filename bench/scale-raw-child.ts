/**
 * Child-process entry of bench:scale's raw baseline: one plain BullMQ no-op Worker on
 * queue `raw-noop`, on a connection built from the environment exactly as Bulwark's are
 * (lib/clients/redis.ts: REDIS_URL, or REDIS_CLUSTER_NODES), under QUEUE_PREFIX (in braces
 * with a cluster). Concurrency: BENCH_RAW_CONCURRENCY. Sends {event:'started'} once the
 * worker is connected; on {cmd:'stop'} closes it and exits 0. Run through bench/scale.ts.
 */
import { Worker } from 'bullmq';
import { createRedis } from '../lib/clients/redis.js';
import { loadConfig } from '../lib/config.js';

if (!process.send) throw new Error('bench/scale-raw-child.ts must be started with an IPC channel (fork)');
const send = (msg: object) => new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));

const config = loadConfig(process.env);
const connection = createRedis(config, 'bench-raw');
const worker = new Worker('raw-noop', async () => undefined, {
  connection,
  prefix: config.queuePrefix,
  concurrency: Number(process.env.BENCH_RAW_CONCURRENCY ?? 200),
});
await worker.waitUntilReady();
await send({ event: 'started', t0: Date.now(), pid: process.pid });

async function stop(): Promise<void> {
  await worker.close();
  await connection.quit().catch(() => connection.disconnect());
  process.exit(0);
}
process.on('message', (msg: unknown) => {
  if (typeof msg === 'object' && msg !== null && (msg as { cmd?: unknown }).cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
