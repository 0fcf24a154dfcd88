/**
 * Child-process entry of the benchmark: Bulwark's workers configured from the
 * environment (no HTTP server, no scheduler). Sends {event:'started', t0} over IPC
 * with the wall-clock time just before startBulwark(); on {cmd:'stop'} stops Bulwark
 * and exits 0. Run through bench/bulwark.ts (fork), not by hand.
 *
 * Before t0 the child loads Prisma's query compiler (see warmPrisma); BENCH_COLD_WORKER=1
 * skips that, so the measured window holds the load again (as before the fix).
 */
import { loadConfig } from '../lib/config.js';
import { createPrisma } from '../lib/clients/prisma.js';
import { startBulwark } from '../app/main.js';
import { applyHeapGrowth } from '../app/runtime/heap.js';

if (!process.send) throw new Error('bench/worker-child.ts must be started with an IPC channel (fork)');
const send = (msg: object) => new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));

const cpuMs = () => {
  const u = process.cpuUsage(); // every thread of the process, like /proc/<pid>/stat
  return (u.user + u.system) / 1000;
};

/** Until the process used under 5 ms of CPU in each of 3 consecutive 100 ms slices (at most 10 s). */
async function untilIdle(): Promise<void> {
  const deadline = Date.now() + 10_000;
  let quiet = 0;
  let last = cpuMs();
  while (quiet < 3 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = cpuMs();
    quiet = now - last < 5 ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * A process's first Prisma query loads Prisma's WebAssembly query compiler (a 4.5 MB
 * base64 module, about 0.45 s of CPU with V8's background tier-up, about 85 MB
 * resident), once per process: the compiled module is cached per process, so a
 * throwaway client loads it for the context's client too. Since issue 17 every Bulwark
 * process makes that first query right after startBulwark() (the retention worker's
 * start-up check, workers/retention/index.ts), inside the measured window, where
 * `bench:audit` counted it as about 40 µs of worker CPU per entry at 10 000 entries.
 * A one-time start-up cost, not per-entry work: loaded here, before t0, and the child
 * waits until the background compilation has finished.
 */
async function warmPrisma(config: ReturnType<typeof loadConfig>): Promise<void> {
  const prisma = createPrisma(config, { max: 1 });
  try {
    await prisma.$queryRaw`SELECT 1`;
  } finally {
    await prisma.$disconnect();
  }
  await untilIdle();
}

const config = loadConfig(process.env);
applyHeapGrowth(config); // as `bulwark start` does
if (process.env.BENCH_COLD_WORKER !== '1') await warmPrisma(config);
const t0 = Date.now();
const running = await startBulwark(config, { http: false, scheduler: false });
await send({ event: 'started', t0, pid: process.pid });

process.on('message', (msg: unknown) => {
  if (typeof msg !== 'object' || msg === null || (msg as { cmd?: unknown }).cmd !== 'stop') return;
  running
    .stop('bench finished')
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      process.stderr.write(`stop failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
});
// Stop with the parent if it goes away.
process.on('disconnect', () => void running.stop('parent gone').finally(() => process.exit(0)));
