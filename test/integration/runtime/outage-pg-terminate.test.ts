// Issue 15 defect 1: Bulwark's Postgres sessions killed (pg_terminate_backend) while it
// writes and reads under load. The process stays up, every request is answered with
// 2xx or 503 (never a 500, never a reset), the jobs whose commit was cut retry, and every
// acknowledged entry lands exactly once. Before the fix, a client checked out by the
// group commit had no 'error' listener and the process died of
// "Unhandled 'error' event … Connection terminated unexpectedly".
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { randomPrefix, waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const prefix = randomPrefix('pgkill');
let db: TestDatabase;
let prisma: PrismaClient;
let worker: WorkerProcess | undefined;
let tenant: { id: string; key: string };

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
    const t = await createTenant(prisma, { name: 'pg-kill' });
    tenant = { id: t.id, key: t.adminKey.key };
    // Eight clients at full speed pass the default 600 requests a minute of one key on an
    // idle machine: this test is about the outage, so its key may send as fast as it can.
    await updateTenantSettings(prisma, t.id, { api: { requestsPerWindow: 1_000_000 } }, { type: 'system', id: 'test' });
    // Small batches and several at once, so most of the time some client is checked out.
    worker = await spawnWorker(workerEnv(db.url, prefix, { AUDIT_WRITE_CONCURRENCY: '8', AUDIT_BATCH_MAX: '20' }));
  }),
);

test.after(
  cleanup([
    ['kill worker', () => killWorker(worker)],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

/** Terminate every session of the test database but the caller's own. */
const terminateAll = () =>
  superuserQuery(
    db.url,
    'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [db.name],
  );

test('sessions terminated under load: the process stays up, answers 2xx or 503, and keeps every acknowledged entry', async () => {
  const url = worker!.url;
  const statuses = new Map<number, number>();
  const acknowledged: string[] = [];
  let running = true;
  let died: string | undefined;
  const failures: string[] = [];
  void worker!.exited.then(
    (e) => (died = `exited (code ${e.code}, signal ${e.signal}); stderr: ${worker!.stderr().slice(-1500)}`),
  );

  async function client(n: number): Promise<void> {
    for (let i = 0; running && !died; i++) {
      const read = i % 5 === 4;
      const eventId = randomUUID();
      const res = await withTimeout(
        fetch(`${url}${read ? '/v1/audit?limit=5' : '/v1/audit'}`, {
          method: read ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${tenant.key}`, ...(read ? {} : { 'content-type': 'application/json' }) },
          body: read
            ? undefined
            : JSON.stringify({
                eventId,
                actorType: 'user',
                actorId: `u${n}`,
                action: 'task:completed',
                resourceType: 'task',
                resourceId: `t${i}`,
              }),
        }),
        15_000,
        'a request under load',
      ).catch(async (err: unknown) => {
        // A reset is how a dying process answers: give its exit a moment to be seen.
        await Promise.race([worker!.exited, sleep(2000)]);
        if (!died)
          failures.push(
            err instanceof Error ? `${err.message} (${String((err as { cause?: unknown }).cause)})` : String(err),
          );
        return undefined;
      });
      if (!res) return;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 503) assert.ok(res.headers.get('retry-after'), '503 carries Retry-After');
      await res.arrayBuffer();
      if (!read && res.status === 202) acknowledged.push(eventId);
    }
  }

  const load = Promise.all(Array.from({ length: 8 }, (_, n) => client(n)));
  await waitFor(async () => acknowledged.length >= 50 || died, 'the first acknowledged writes', 30_000);
  let terminated = 0;
  for (let i = 0; i < 15 && !died; i++) {
    terminated += (await terminateAll().catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n as number;
    await sleep(150);
  }
  await sleep(500);
  running = false;
  await load;
  assert.is(died, undefined, `the process died: ${died}`);
  assert.equal(failures, [], 'every request was answered');
  assert.ok(terminated > 0, 'sessions were terminated');
  const other = [...statuses.keys()].filter((s) => s !== 200 && s !== 202 && s !== 503);
  assert.equal(other, [], `answers: ${JSON.stringify([...statuses])}`);

  // Still serving, and the writes whose commits were cut were retried: all there, once each.
  const health = await withTimeout(fetch(`${url}/healthz`), 10_000, 'GET /healthz');
  assert.is(health.status, 200);
  await waitFor(
    async () => {
      const stored = await storedEventIds(db.url, tenant.id);
      return acknowledged.every((id) => stored.includes(id)) ? stored : undefined;
    },
    'every acknowledged entry stored',
    90_000,
    250,
  );
  const stored = await storedEventIds(db.url, tenant.id);
  assert.is(stored.length, new Set(stored).size, 'no entry stored twice');
});

test.run();
