/**
 * Alert deliveries end to end (queue → decision → ledger → signed webhook POST) to a
 * local receiver, against a raw loop of HTTP POSTs of the same body to the same
 * receiver at the same concurrency, in one run. Target ratio ≥ 0.6.
 *
 * "The same concurrency" is the most POSTs Bulwark has in flight to the receiver: one
 * channel, so the per-channel cap (alertDeliveryPolicy.perChannelConcurrency). The raw
 * loop is warmed up first (fetch loads lazily; a cold first loop is slower and would
 * flatter the ratio), and is also printed at the alert worker's concurrency for reading.
 * Bulwark runs from the compiled build (dist/), as `bulwark start` does. Also printed: the
 * floor (bench/raw.ts rawBullmqPostFloor), plain BullMQ jobs each making one POST at the
 * same concurrency and cap, which is what the design's parts cost with no Bulwark code.
 * Run: node --import tsx bench/alert-delivery.ts   (BENCH_N, default 2000; REDIS_URL, default the
 * local one; BENCH_CPU_PROF=<dir>
 * writes a CPU profile of the measured phase there)
 */
import { Agent as HttpAgent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addChannel } from '../lib/alerts/channels.js';
import { loadConfig, requireMasterKeys } from '../lib/config.js';
import { alertDeliveryPolicy } from '../lib/contracts/alert-delivery.js';
import { generateFernetKey } from '../lib/crypto/fernet.js';
import { setSecret } from '../lib/secrets/secrets.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { updateTenantSettings } from '../lib/tenants/settings-store.js';
import { createProducer } from '../producers/index.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { obliterateQueues } from '../test/helpers/queues.js';
import { ensureBuilt } from '../scripts/build.mjs';
import { rawBullmqPostFloor } from './raw.js';
import { profileWindow } from './util.js';

const { startBulwark } = (await import(`${await ensureBuilt()}/app/main.js`)) as typeof import('../app/main.js');

const N = Number(process.env.BENCH_N ?? 2000);
const CONCURRENCY = alertDeliveryPolicy.concurrency;
let hits = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hits++;
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const body = JSON.stringify({ version: 1, tenantId: '00000000-0000-4000-8000-000000000000', alertIds: ['x'], severity: 'warning', title: 'Disk almost full', text: '', runbookUrl: null, items: [] });

/** CPU time of this process (user + system) in ms, to put the throughput figures next to a figure the other loads of a shared machine disturb less. */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
let rawCpuMs = 0;

/** One POST of the body with fetch, the client of the headline raw loop. */
const fetchPost = async (): Promise<void> => {
  await (await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).arrayBuffer();
};

/**
 * One POST with the client Bulwark's webhook channel sends with since the SSRF guard
 * (workers/alert/sending/channels/guarded-post.ts): node:http with a keep-alive agent.
 */
const rawAgent = new HttpAgent({ keepAlive: true, timeout: 4000, scheduling: 'lifo' });
const httpPost = () => new Promise<void>((resolve, reject) => {
  const req = httpRequest(url, { method: 'POST', agent: rawAgent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
    res.resume();
    res.on('end', resolve);
  });
  req.on('error', reject);
  req.end(body);
});

/** `n` POSTs, `concurrency` at a time; requests per second. */
async function rawLoop(concurrency: number, n = N, post: () => Promise<void> = fetchPost): Promise<number> {
  hits = 0;
  let i = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i++ < n) await post();
  }));
  rawCpuMs = cpuMs() - c0;
  return (n / (performance.now() - t0)) * 1000;
}

const db = await createTestDatabase('bulwark_bench');
const config = loadConfig({ DATABASE_URL: db.url, REDIS_URL: process.env.REDIS_URL, PORT: '0', LOG_LEVEL: 'warn', QUEUE_PREFIX: `bench-alerts-${Date.now()}`, MASTER_KEYS: `b1:${generateFernetKey()}`, SETTINGS_CACHE_MS: '60000', ALERT_TARGETS_ALLOW_PRIVATE: 'true' }); // the receiver is on loopback
const CAP = alertDeliveryPolicy.perChannelConcurrency;
await rawLoop(CONCURRENCY, Math.min(N, 1000)); // warm-up, not measured
const raw = await rawLoop(CAP);
const rawCpuPerPost = rawCpuMs / N;
const rawAtWorkerConcurrency = await rawLoop(CONCURRENCY);
await rawLoop(CAP, N, httpPost); // warm-up, not measured
const rawHttp = await rawLoop(CAP, N, httpPost);
// The floor: plain BullMQ jobs, each one POST, at Bulwark's concurrency and cap.
const floorFetch = await rawBullmqPostFloor(config.redisUrl, N, CONCURRENCY, CAP, fetchPost);
const floorHttp = await rawBullmqPostFloor(config.redisUrl, N, CONCURRENCY, CAP, httpPost);
const producer = createProducer({ redisUrl: config.redisUrl, queuePrefix: config.queuePrefix });
// Decisions need the tenant first; workers start after everything is enqueued.
const setup = await startBulwark(config, { http: false, scheduler: false, workers: false });
const tenant = await createTenant(setup.ctx.prisma, { name: 'bench' });
await updateTenantSettings(setup.ctx.prisma, tenant.id, { alerts: { maxPerWindow: 100000, cooldownSeconds: 0, userThrottle: { limit: 0 } } }, { type: 'system', id: 'bench' });
await setSecret(setup.ctx.prisma, requireMasterKeys(config), { tenantId: tenant.id, name: 'hook', value: 'bench-signing-secret' }, { type: 'system', id: 'bench' });
await addChannel(setup.ctx.prisma, { tenantId: tenant.id, name: 'hook', type: 'webhook', target: url, secretRef: 'secret://hook' }, { type: 'system', id: 'bench' }, { allowPrivateTargets: true });
await setup.stop();
// Bulwark is warmed up like the raw loop: the first WARM alerts (JIT, connections,
// prepared statements) are delivered before the clock starts; jobs run in order.
const WARM = Math.min(500, Math.floor(N / 4));
for (let i = 0; i < N + WARM; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, N + WARM - i) }, () => producer.alert.send({ tenantId: tenant.id, type: 'disk.full', severity: 'warning', title: 'Disk almost full' })));
}
hits = 0;
const bulwark = await startBulwark(config, { http: false, scheduler: false });
while (hits < WARM) await new Promise((r) => setImmediate(r));
const stopProfile = await profileWindow(process.env.BENCH_CPU_PROF || undefined, 'alert-delivery-e2e');
const c0 = cpuMs();
const t0 = performance.now();
// Some sends may land between the warm-up's last one and this line: count from here.
const hits0 = hits;
const measured = WARM + N - hits0;
while (hits < WARM + N) await new Promise((r) => setTimeout(r, 20));
const e2e = (measured / (performance.now() - t0)) * 1000;
const e2eCpuMs = cpuMs() - c0;
await stopProfile();
await bulwark.stop();
await producer.close();
await obliterateQueues(config.queuePrefix, config.redisUrl);
await db.drop();
rawAgent.destroy();
server.close();
console.log(`raw POST loop          ${raw.toFixed(0)} req/s (warm, concurrency ${CAP} = the per-channel cap, the most POSTs Bulwark has in flight to this receiver)`);
console.log(`alert deliveries e2e   ${e2e.toFixed(0)} deliveries/s (${N} alerts after ${WARM} to warm up, decision + ledger + signed POST)`);
console.log(`ratio                  ${(e2e / raw).toFixed(2)} (target >= 0.6)`);
console.log(`(for reading) raw POST loop at the alert worker's concurrency ${CONCURRENCY}: ${rawAtWorkerConcurrency.toFixed(0)} req/s (e2e / that = ${(e2e / rawAtWorkerConcurrency).toFixed(2)})`);
console.log(`raw node:http loop     ${rawHttp.toFixed(0)} req/s (keep-alive, concurrency ${CAP}: the client Bulwark's webhook channel sends with)`);
console.log(`same-client ratio      ${(e2e / rawHttp).toFixed(2)} (target >= 0.6; the ratio above is against fetch, a different and dearer client)`);
console.log(`raw BullMQ + POST floor ${floorFetch.toFixed(0)} jobs/s with fetch (${(floorFetch / raw).toFixed(2)} of the fetch loop), ${floorHttp.toFixed(0)} with node:http (${(floorHttp / rawHttp).toFixed(2)} of its loop):`);
console.log(`                       a plain BullMQ worker at concurrency ${CONCURRENCY}, one POST per job, at most ${CAP} in flight; no decision, no ledger`);
console.log(`(for reading) cpu of this process: ${(rawCpuPerPost * 1000).toFixed(0)} µs per raw POST; ${((e2eCpuMs / measured) * 1000).toFixed(0)} µs per delivery (Postgres and Redis not included)`);
