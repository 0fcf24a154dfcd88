// Alert ids are callers' own and the ledger's key: one tenant's id cannot stand for, or
// silently swallow, another tenant's alert; and a caller cannot set source.auditEventId,
// the duplicate key of alerts raised by audit entries, to silence one of them. Real
// server, workers, Redis and Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { ValidationError } from '../../../lib/errors.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';

let api: ApiHarness;
let producer: Producer;
test.before(async () => {
  api = await startApi();
  producer = createProducer({ queuePrefix: api.bulwark.ctx.config.queuePrefix });
});
test.after(async () => {
  await producer?.close();
  await api?.close();
});

const alert = { type: 'disk.full', severity: 'warning', title: 'Disk almost full' };
const rowOf = async (id: string) =>
  (await superuserQuery(api.db.url, 'SELECT tenant_id::text, title, outcome FROM alert_ledger WHERE id = $1', [id]))
    .rows[0] as { tenant_id: string; title: string; outcome: string } | undefined;

test("another tenant's alert with an id already used is refused (409 over HTTP; a failed job and an error event from the producer), and the first tenant's row is untouched", async () => {
  const [a, b] = [await api.tenant('ids-a'), await api.tenant('ids-b')];
  const id = randomUUID();
  assert.is((await api.call('POST', '/v1/alerts', { key: a.adminKey, body: { ...alert, id } })).status, 202);
  const before = await waitFor(async () => {
    const row = await rowOf(id);
    return row && row.outcome !== 'received' ? row : undefined;
  }, "tenant a's alert decided");
  const refused = await api.call('POST', '/v1/alerts', {
    key: b.adminKey,
    body: { ...alert, id, title: 'Tenant b alert' },
  });
  assert.is(refused.status, 409);
  const body = (await refused.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'conflict');
  assert.match(body.error.message, `alert id ${id} is already in use`);
  assert.not.match(body.error.message, a.id, 'the holder is not named');
  // Application code enqueues without the HTTP check: its job is its own (not tenant a's)
  // and the worker refuses it for good, with the reason.
  const sent = await producer.alert.send({ ...alert, tenantId: b.id, id, title: 'Tenant b alert' } as never);
  assert.is(sent.jobId, `alert-${b.id}-${id}`);
  const queue = new Queue(ALERT_QUEUE, {
    connection: api.bulwark.ctx.redis,
    prefix: api.bulwark.ctx.config.queuePrefix,
  });
  try {
    // The state first, then the job: a job read just before it failed has no reason yet.
    await waitFor(async () => (await queue.getJobState(sent.jobId)) === 'failed', "tenant b's job failed");
    const failed = (await queue.getJob(sent.jobId))!;
    assert.match(failed.failedReason, `alert id ${id} is already used by another tenant's alert`);
    assert.is(failed.attemptsMade, 1, 'refused for good, not retried');
  } finally {
    await queue.close();
  }
  const event = api.logs.events().find((e) => e.event === 'alert_id_conflict');
  assert.equal([event?.tenant_id, event?.alert_id], [b.id, id], api.logs.text());
  assert.equal(await rowOf(id), before, "tenant a's row is as it was");
});

test("a caller's alert id cannot be a version 8 UUID, the version of the ids of security alerts (derived from tenant and eventId, so computable)", async () => {
  const t = await api.tenant('ids-v8');
  const v8 = '3f1c6a36-7c0e-8b6e-9a3a-111111111111';
  const res = await api.call('POST', '/v1/alerts', { key: t.adminKey, body: { ...alert, id: v8 } });
  assert.is(res.status, 400);
  const body = (await res.json()) as { error: { fields: Array<{ path: string; message: string }> } };
  assert.equal(
    body.error.fields.map((f) => f.path),
    ['id'],
  );
  assert.match(body.error.fields[0]!.message, 'UUID version 8 is reserved');
  // A security alert's own id is version 8, and is not refused on its path.
  assert.is(
    (
      await api.call('POST', '/v1/audit', {
        key: t.adminKey,
        body: {
          eventId: 'login-42',
          actorType: 'user',
          actorId: 'u-9',
          action: 'security:privilege-escalation',
          resourceType: 'user',
          severity: 'critical',
        },
      })
    ).status,
    202,
  );
  const raised = await waitFor(
    async () =>
      (
        await superuserQuery(
          api.db.url,
          `SELECT id::text FROM alert_ledger WHERE tenant_id = $1 AND type = 'security:privilege-escalation'`,
          [t.id],
        )
      ).rows[0],
    'the security alert',
  );
  assert.is(raised.id[14], '8');
});

test('an alert sent by a caller cannot carry source.auditEventId (the duplicate key of security alerts)', async () => {
  const t = await api.tenant('ids-source');
  const res = await api.call('POST', '/v1/alerts', {
    key: t.adminKey,
    body: { ...alert, source: { auditEventId: 'sec-evt-1' } },
  });
  assert.is(res.status, 400);
  const body = (await res.json()) as { error: { fields: Array<{ path: string; message: string }> } };
  assert.equal(
    body.error.fields.map((f) => f.path),
    ['source'],
  );
  assert.match(body.error.fields[0]!.message, 'is set by Bulwark');
  try {
    await producer.alert.send({ ...alert, tenantId: t.id, source: { auditEventId: 'sec-evt-1' } } as never);
    assert.unreachable('the producer refuses it too');
  } catch (err) {
    assert.instance(err, ValidationError);
  }
  // The security alert of an audit entry with that eventId is decided on its own merits.
  assert.is(
    (
      await api.call('POST', '/v1/audit', {
        key: t.adminKey,
        body: {
          eventId: 'sec-evt-1',
          actorType: 'user',
          actorId: 'u-9',
          action: 'security:privilege-escalation',
          resourceType: 'user',
          severity: 'critical',
        },
      })
    ).status,
    202,
  );
  const row = await waitFor(
    async () =>
      (
        await superuserQuery(
          api.db.url,
          `SELECT outcome, reason FROM alert_ledger WHERE tenant_id = $1 AND type = 'security:privilege-escalation' AND outcome <> 'received'`,
          [t.id],
        )
      ).rows[0],
    'the security alert decided',
  );
  assert.is.not(row.reason, 'duplicate');
});

test.run();
