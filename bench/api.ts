/**
 * npm run bench:api — POST /v1/audit with a valid key against a Fastify route that
 * answers 204 with no work, both driven by autocannon on loopback in the same run.
 * Prints requests/s, p99 latency and the ratio (target ≥ 0.5, p99 < 20 ms), and how
 * many Postgres queries the key checks cost (target: about none per request).
 * Also printed: the floor (bench/raw-ingest.ts), the Redis work an ingest needs done with
 * raw parts and nothing else, for how much of the target Bulwark's own work may take.
 * BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50); BENCH_CPU_PROF=<dir> writes
 * a CPU profile of the server during the POST /v1/audit run there.
 */
import type autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { AUDIT_WRITE_QUEUE } from '../lib/contracts/audit.js';
import { createApiKey } from '../lib/apikeys/records.js';
import { loadConfig } from '../lib/config.js';
import { generateFernetKey } from '../lib/crypto/fernet.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery } from '../test/helpers/db.js';
import { obliterateQueues } from '../test/helpers/queues.js';
import { ensureBuilt } from '../scripts/build.mjs';
import { startRawIngestFloor } from './raw-ingest.js';
import { profileWindow } from './util.js';

/**
 * The server under test is the compiled build `bulwark start` runs (dist/), not the
 * TypeScript sources through tsx: tsx's transform wraps every function it creates in a
 * naming helper, which alone cost the route a measurable share of its CPU.
 */
async function loadStartBulwark(): Promise<(typeof import('../app/main.js'))['startBulwark']> {
  const dist = await ensureBuilt();
  return ((await import(`${dist}/app/main.js`)) as typeof import('../app/main.js')).startBulwark;
}

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const CANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));

interface Figures {
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * autocannon runs in its own process so the load generator does not compete with the
 * server under test for the event loop (the same for the baseline and for Bulwark).
 */
async function drive(url: string, options: { method: string; headers: Record<string, string>; body: string }): Promise<Figures> {
  const args = [CANNON, '--json', '-c', String(CONNECTIONS), '-d', String(DURATION), '-m', options.method, '-b', options.body];
  for (const [k, v] of Object.entries(options.headers)) args.push('-H', `${k}=${v}`);
  const child = spawn(process.execPath, [...args, url], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.on('close', resolve));
  const result = JSON.parse(out) as autocannon.Result;
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}

async function baseline(): Promise<Figures> {
  const app = Fastify();
  app.post('/noop', async (_req, reply) => reply.code(204).send());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    return await drive(`${url}/noop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bulwark_bench');
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `bench-api-${Date.now()}`,
    MASTER_KEYS: `b1:${generateFernetKey()}`,
  });
  // Only the API runs: jobs pile up in Redis, as when workers lag; the API's cost is what is measured.
  const startBulwark = await loadStartBulwark();
  const bulwark = await startBulwark(config, { scheduler: false, workers: false });
  try {
    const tenant = await createTenant(bulwark.ctx.prisma, { name: 'bench' });
    await bulwark.ctx.prisma.tenantSettings.update({
      where: { tenantId: tenant.id },
      data: { settings: { api: { requestsPerWindow: 1_000_000, windowSeconds: 60 } } },
    });
    const { key } = await createApiKey(bulwark.ctx.prisma, { tenantId: tenant.id, name: 'bench', scopes: ['audit:write'] }, { type: 'system', id: 'bench' });
    const body = JSON.stringify({ actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-1' });
    const base = await baseline();
    const floorServer = await startRawIngestFloor(config.redisUrl);
    const floorCpu0 = process.cpuUsage();
    const floor = await drive(floorServer.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).finally(() => floorServer.close());
    const floorCpu = process.cpuUsage(floorCpu0);
    const queriesBefore = Number((await superuserQuery(db.url, `SELECT sum(xact_commit)::bigint AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0].n);
    // CPU of this process (the server under test; autocannon runs in a child) per request:
    // steadier than requests/s on a shared 2-core machine, for comparing changes.
    const stopProfile = await profileWindow(process.env.BENCH_CPU_PROF || undefined, 'api-post-audit');
    const cpu0 = process.cpuUsage();
    const api = await drive(`${bulwark.url}/v1/audit`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
    const queriesAfter = Number((await superuserQuery(db.url, `SELECT sum(xact_commit)::bigint AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0].n);
    const cpu = process.cpuUsage(cpu0);
    await stopProfile();
    const jobs = await new Queue(AUDIT_WRITE_QUEUE, { connection: bulwark.ctx.redis, prefix: config.queuePrefix }).count();
    const requests = api.rps * DURATION;
    const ratio = api.rps / base.rps;
    console.log(`fastify 204 baseline   ${base.rps.toFixed(0)} req/s   p99 ${base.p99} ms`);
    console.log(`POST /v1/audit         ${api.rps.toFixed(0)} req/s   p99 ${api.p99} ms   non-2xx ${api.non2xx}   errors ${api.errors}`);
    console.log(`ratio                  ${ratio.toFixed(2)} (target >= 0.5); p99 ${api.p99} ms (target < 20 ms)`);
    console.log(`raw ingest floor       ${floor.rps.toFixed(0)} req/s   p99 ${floor.p99} ms   ratio ${(floor.rps / base.rps).toFixed(2)}: bare Fastify + one raw Redis script call and one raw BullMQ job per turn (bench/raw-ingest.ts)`);
    console.log(`(for reading) floor cpu ${((floorCpu.user + floorCpu.system) / Math.max(1, floor.rps * DURATION)).toFixed(0)} µs per request`);
    console.log(`(for reading) server cpu  ${((cpu.user + cpu.system) / Math.max(1, requests)).toFixed(0)} µs per request`);
    console.log(`(for reading) audit-write jobs ${jobs} for ~${requests.toFixed(0)} requests (${(requests / Math.max(1, jobs)).toFixed(1)} entries per job)`);
    console.log(`postgres transactions  ${queriesAfter - queriesBefore} for ~${requests.toFixed(0)} requests (${((queriesAfter - queriesBefore) / Math.max(1, requests)).toFixed(4)} per request)`);
  } finally {
    await bulwark.stop();
    await obliterateQueues(config.queuePrefix);
    await db.drop();
  }
}

await main();
