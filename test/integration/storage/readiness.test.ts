// An unreachable object store is reported, never an outage of the API: /readyz stays
// 200 with object_store under `degraded` and a fixed reason, bulwark_object_store_up
// is 0 (bulwark_ready has no object_store check, so its rules never page for it), the
// log says why once without the secret key, and audit ingest keeps working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createStorage, ensureBuckets } from '../../../lib/clients/storage.js';
import { loadConfig } from '../../../lib/config.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { startS3Server, type S3Server } from '../../helpers/s3.js';

const SECRET = 'readiness-secret-key-0123456789';
let db: TestDatabase;
let s3: S3Server;
let bulwark: RunningBulwark;
const logs = captureLogs();

interface Ready {
  status: string;
  failing: string[];
  degraded: string[];
  checks: Record<string, { ok: boolean; reason?: string; required?: boolean }>;
}

test.before(async () => {
  [db, s3] = await Promise.all([createTestDatabase(), startS3Server()]);
  // s3rver does not check signatures, so any secret works; this one must never show.
  const env = { ...s3.env, S3_SECRET_KEY: SECRET };
  await ensureBuckets(createStorage(loadConfig(env).storage));
  bulwark = await startBulwark(testConfig(db.url, env), { scheduler: false, logDestination: logs.stream });
});
test.after(async () => {
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await Promise.all([db.drop(), s3.stop()]);
});

const readyz = async () => {
  const res = await fetch(`${bulwark.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready };
};
/**
 * /readyz once every required check passes: on a loaded machine a Redis or Postgres check
 * can miss its 2 s limit, which is a true 503 and not what these tests are about.
 */
const readyzRequiredPassing = () =>
  waitFor(async () => {
    const r = await readyz();
    return r.body.failing.length === 0 ? r : undefined;
  }, 'the required readiness checks to pass');
const metrics = async () => (await fetch(`${bulwark.url}/metrics`)).text();

test('store up: object_store ok, not degraded, gauge 1', async () => {
  const { status, body } = await readyzRequiredPassing();
  assert.is(status, 200);
  assert.equal(body.checks.object_store, { ok: true, required: false });
  assert.equal([body.failing, body.degraded], [[], []]);
  const text = await metrics();
  assert.match(text, /^bulwark_object_store_up 1$/m);
  assert.not.match(text, 'check="object_store"');
});

test('store down: /readyz 200 naming object_store with a fixed reason, gauge 0, audit ingest still works', async () => {
  await s3.pause();
  try {
    const { status, body } = await readyzRequiredPassing();
    assert.is(status, 200);
    assert.is(body.status, 'ready');
    assert.equal(body.failing, []);
    assert.equal(body.degraded, ['object_store']);
    assert.equal(body.checks.object_store, { ok: false, reason: 'error', required: false });
    assert.not.match(JSON.stringify(body), s3.endpoint.replace('http://', ''), 'the body names no host or port');
    const text = await metrics();
    assert.match(text, /^bulwark_object_store_up 0$/m);
    assert.not.match(text, 'check="object_store"');
    assert.match(text, 'bulwark_ready{check="postgres"}');
    const failed = logs.events().filter((e) => e.event === 'readiness_check_failed' && e.check === 'object_store');
    assert.ok(failed.length >= 1, 'the failure is logged');
    assert.match(String(failed[0]!.error), '(S3_ENDPOINT)');
    assert.not.match(logs.text(), SECRET);
    // Audit ingest does not need the store.
    const tenant = (await createTenant(bulwark.ctx.prisma, { name: 'store-down' })).id;
    const producer = createProducer({ queuePrefix: bulwark.ctx.config.queuePrefix });
    await producer.audit.write(entry(tenant));
    await producer.close();
    await waitFor(
      async () =>
        Number(
          (
            await superuserQuery(
              db.url,
              `SELECT count(*) AS n FROM audit_log WHERE tenant_id = '${tenant}' AND action = 'task:completed'`,
            )
          ).rows[0].n,
        ) === 1,
      'the entry written',
    );
  } finally {
    await s3.resume();
  }
  const back = await readyzRequiredPassing();
  assert.equal([back.body.checks.object_store?.ok, back.body.degraded], [true, []]);
  assert.match(await metrics(), /^bulwark_object_store_up 1$/m);
});

test('store up without the bucket: reason missing_bucket', async () => {
  const running = await startBulwark(testConfig(db.url, { ...s3.env, S3_BUCKET: 'never-created' }), {
    scheduler: false,
    workers: false,
  });
  try {
    const body = await waitFor(async () => {
      const res = await fetch(`${running.url}/readyz`);
      const b = (await res.json()) as Ready;
      return b.failing.length === 0 && res.status === 200 ? b : undefined;
    }, 'the required readiness checks to pass');
    assert.equal(body.checks.object_store, { ok: false, reason: 'missing_bucket', required: false });
  } finally {
    await running.stop();
  }
});

test.run();
