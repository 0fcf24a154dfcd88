/**
 * Child-process entry for tests: starts Bulwark configured as testConfig() does, with
 * every Bulwark variable of the environment (DATABASE_URL, QUEUE_PREFIX, …) on top;
 * prints one JSON line {"event":"test_worker_ready","url":…,"pid":…} when ready, and
 * on SIGTERM or SIGINT runs stop() and exits 0 (1 if stopping failed).
 * Run as: node --import tsx test/helpers/run-worker.ts
 */
import { CONFIG_VARIABLES } from '../../lib/config.js';
import { startBulwark } from '../../app/main.js';
import { testConfig } from './env.js';

// testConfig's defaults (whatever a test Bulwark needs) under the variables we were given.
const given = Object.fromEntries(CONFIG_VARIABLES.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
const running = await startBulwark(testConfig(given.DATABASE_URL ?? '', given));
process.stdout.write(`${JSON.stringify({ event: 'test_worker_ready', url: running.url, pid: process.pid })}\n`);

const onSignal = (signal: NodeJS.Signals) => {
  running
    .stop(`received ${signal}`)
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      process.stderr.write(`stop failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);
