/** Test configuration: a Config pointing at a test database and a random queue prefix. */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../lib/config.js';
import { generateFernetKey } from '../../lib/crypto/fernet.js';
import { TimeoutError, withTimeout } from '../../lib/time.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function randomPrefix(label = 't'): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`;
}

export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: randomPrefix(),
    // Long enough that a busy machine (CPU hog, other suites) never misses a renewal
    // (every 5 s): a lost lock re-runs a job, which sent an alert group twice in
    // alerts/deliveries.test.ts. Tests of the take-over of a dead worker's jobs set their own.
    WORKER_LOCK_DURATION_MS: '10000',
    SHUTDOWN_TIMEOUT_MS: '5000',
    MASTER_KEYS: `test1:${generateFernetKey()}`,
    // The receivers of the tests listen on loopback; tests of the refusal set 'false'.
    ALERT_TARGETS_ALLOW_PRIVATE: 'true',
    ...overrides,
  });
}

/** A stream that keeps every log line written to it, for assertions on logs. */
export function captureLogs() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { stream, lines, text: () => lines.join('\n'), events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Poll `check` until it returns a truthy value, or fail after `ms` naming `what`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string, ms = 20_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    // A check still running at the deadline fails with the whole wait's length, not the few ms left of it.
    const v = await withTimeout(check(), Math.max(1, deadline - Date.now()), `waiting for ${what}`).catch((e: unknown) => {
      throw e instanceof TimeoutError ? new Error(`timed out after ${ms} ms waiting for ${what} (its last check was still running)`) : e;
    });
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export { withTimeout };
