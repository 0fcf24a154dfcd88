// SHUTDOWN_DRAIN_MS: once stop() begins, /readyz answers 503 (`accepting`, reason
// `stopping`) while the process keeps serving (new connections included) and taking
// jobs; only after the drain do the workers stop and the HTTP server close. With 0, or
// without a listening server, the workers stop at once. Ordering is asserted, never speed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark, type StartOptions } from '../../../app/main.js';
import { storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

/**
 * Room, on a loaded machine, for two probes and one job taken and written inside the
 * drain; the test waits for each, then checks the drain had not ended (an order, not a speed).
 */
const DRAIN_MS = 10_000;

let db: TestDatabase;
const started: RunningBulwark[] = [];
const producers: Producer[] = [];

test.before(
  setup(async () => {
    db = await createTestDatabase();
  }),
);

test.after(
  cleanup([
    ['close producers', () => Promise.all(producers.map((p) => p.close()))],
    ['stop bulwarks', () => Promise.all(started.map((b) => b.stop()))],
    ['obliterate queues', () => Promise.all(started.map((b) => obliterateQueues(b.ctx.config.queuePrefix)))],
    ['drop database', () => db?.drop()],
  ]),
);

async function start(env: Record<string, string>, options: StartOptions = {}) {
  const logs = captureLogs();
  const bulwark = await startBulwark(testConfig(db.url, { LOG_LEVEL: 'info', ...env }), { scheduler: false, logDestination: logs.stream, ...options });
  started.push(bulwark);
  const events = () => logs.events().flatMap((e) => (typeof e.event === 'string' ? [e.event] : []));
  return { bulwark, logs, events };
}

/** GET on a connection of its own: proves the port still accepts, not only a kept-alive socket. */
function getFresh(url: string): Promise<{ status: number; body: { failing?: string[]; checks?: Record<string, { ok: boolean; reason?: string }> } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with SHUTDOWN_DRAIN_MS: /readyz fails with `stopping` while the process still serves and works; the server closes only after the drain', async () => {
  const { bulwark, logs, events } = await start({ SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
  const tenant = (await createTenant(bulwark.ctx.prisma, { name: 'drain' })).id;
  const producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: bulwark.ctx.config.queuePrefix });
  producers.push(producer);
  assert.is((await getFresh(`${bulwark.url}/readyz`)).status, 200);
  const closedAfter: string[][] = [];
  bulwark.http!.server.once('close', () => closedAfter.push(events()));

  const stopping = bulwark.stop('drain test');
  assert.is(bulwark.stop('a second signal'), stopping, 'a second stop() returns the first one');
  assert.ok(events().includes('bulwark_draining'), events().join(','));
  assert.not.ok(events().includes('bulwark_stopping'), 'the workers are not stopped during the drain');
  assert.is(logs.events().find((e) => e.event === 'bulwark_draining')?.drain_ms, DRAIN_MS);

  const ready = await getFresh(`${bulwark.url}/readyz`);
  assert.is(ready.status, 503);
  assert.equal(ready.body.failing, ['accepting']);
  assert.equal(ready.body.checks?.accepting, { ok: false, reason: 'stopping' });
  assert.is((await getFresh(`${bulwark.url}/healthz`)).status, 200, 'other routes are served too');
  // A job enqueued during the drain is still taken and written.
  const { eventId } = await producer.audit.write(entry(tenant));
  await waitFor(async () => (await storedEventIds(db.url, tenant)).includes(eventId), 'the job enqueued during the drain to be written');
  assert.not.ok(events().includes('bulwark_stopping'), 'the probes, the enqueue and its job all happened during the drain');

  await withTimeout(stopping, 60_000, 'stop() after the drain');
  const order = events();
  assert.ok(order.indexOf('bulwark_draining') < order.indexOf('bulwark_stopping'), order.join(','));
  assert.ok(order.indexOf('bulwark_stopping') < order.indexOf('bulwark_stopped'), order.join(','));
  assert.is(closedAfter.length, 1, 'the HTTP server closed');
  assert.ok(closedAfter[0]!.includes('bulwark_stopping'), `the server closed before the drain ended: ${closedAfter[0]!.join(',')}`);
});

test('with SHUTDOWN_DRAIN_MS=0 nothing waits: the workers stop as stop() begins, no bulwark_draining', async () => {
  const { bulwark, events } = await start({ SHUTDOWN_DRAIN_MS: '0' });
  const stopping = bulwark.stop('no drain');
  assert.ok(events().includes('bulwark_stopping'), events().join(','));
  assert.not.ok(events().includes('bulwark_draining'));
  await withTimeout(stopping, 60_000, 'stop()');
  assert.ok(events().includes('bulwark_stopped'));
});

test('without a listening HTTP server there is nothing to drain: the workers stop at once', async () => {
  const { bulwark, events } = await start({ SHUTDOWN_DRAIN_MS: String(DRAIN_MS) }, { http: false });
  const stopping = bulwark.stop('no http');
  assert.ok(events().includes('bulwark_stopping'), events().join(','));
  assert.not.ok(events().includes('bulwark_draining'));
  await withTimeout(stopping, 60_000, 'stop()');
});

test.run();
