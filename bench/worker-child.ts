/**
 * Child-process entry of the benchmark: Bulwark's workers configured from the
 * environment (no HTTP server, no scheduler). Sends {event:'started', t0} over IPC
 * with the wall-clock time just before startBulwark(); on {cmd:'stop'} stops Bulwark
 * and exits 0. Run through bench/bulwark.ts (fork), not by hand.
 */
import { loadConfig } from '../lib/config.js';
import { startBulwark } from '../app/main.js';
import { applyHeapGrowth } from '../app/runtime/heap.js';

if (!process.send) throw new Error('bench/worker-child.ts must be started with an IPC channel (fork)');
const send = (msg: object) => new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));

const config = loadConfig(process.env);
applyHeapGrowth(config); // as `bulwark start` does
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
