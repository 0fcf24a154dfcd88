// The alert sweep and the large-digest path: rows still grouped a minute past their
// flush time get a flush of their own; alerts delivering with no change for an hour
// are reported in a log event and in bulwark_alerts_stuck; a digest of more than 1,000
// alerts goes out in parts. Real Redis, Postgres and a recording receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { deliverJob, deliverJobKey, enqueueDeliveries } from '../../../workers/alert/jobs/deliver-jobs.js';
import { processDelivery } from '../../../workers/alert/jobs/delivery.js';
import { createLogger } from '../../../lib/logger.js';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { sweep } from '../../../workers/alert/jobs/sweep.js';
import { firstRun, startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { captureLogs, waitFor } from '../../helpers/env.js';
import { setup } from '../../helpers/lifecycle.js';
import { replies } from '../../helpers/receiver.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

test('the sweep flushes a grouped row past its flush time whose flush never came (a late member)', async () => {
  const { tenantId } = await h.tenantWithHooks('sweep-group', ['/s'], { groupWaitSeconds: 1 });
  const opener = h.alertFor(tenantId, { groupKey: 'late' });
  await processAlert({ v: 1, alert: opener }, h.ctx, firstRun);
  await (await h.ctx.deliveries.getJob(`group-${opener.id}`))?.remove(); // the flush that would have sent it is gone
  const early = await sweep({ ...h.ctx, clock: () => new Date() });
  assert.not.ok(early.groups.includes(opener.id), 'not yet: within its flush time and the grace minute');
  const later = await sweep({ ...h.ctx, clock: () => new Date(Date.now() + 3 * 60_000) });
  assert.ok(later.groups.includes(opener.id));
  await h.delivered(opener.id);
  assert.is(h.hitsAt('/s'), 1);
});

test('a digest of more than 1,000 alerts goes out in parts of at most 1,000, and every row is delivered', async () => {
  const { tenantId } = await h.tenantWithHooks('big-digest', ['/big']);
  const until = new Date(Date.now() - 1000);
  const ids: string[] = [];
  for (let i = 0; i < 1001; i++) {
    const a = h.alertFor(tenantId, { title: `Queue ${i} slow` });
    ids.push(a.id);
    await h.ctx.ledger.receive(a, new Date());
  }
  await h.ctx.ledger.apply(ids, { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until });
  await processDelivery({ name: 'digest', data: { v: 1, tenantId, until: until.toISOString() } } as unknown as Job, h.ctx);
  await waitFor(async () => {
    const r = (await superuserQuery(h.db.url, `SELECT count(*)::int AS n FROM alert_ledger WHERE tenant_id = $1 AND outcome = 'delivered'`, [tenantId])).rows[0].n as number;
    return r === 1001 || undefined;
  }, 'all 1,001 rows delivered');
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/big'), 2, 'two messages: 1,000 and 1');
  // Each part's rows keep its deliver job's key, by which the sweep would find it lost.
  const keys = (await superuserQuery(h.db.url, `SELECT job_key, count(*)::int AS n FROM alert_deliveries WHERE alert_id = ANY($1::uuid[]) GROUP BY job_key ORDER BY n`, [ids])).rows as Array<{ job_key: string; n: number }>;
  assert.equal(keys.map((k) => k.n), [1, 1000]);
  for (const k of keys) assert.match(k.job_key, new RegExp(`^d-${tenantId}-${until.getTime()}-[0-9a-f]{16}$`));
});

test('a queued part that finishes before the fan-out records it delivering still leaves its job key on the row', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('key-first', ['/kf']);
  const a = h.alertFor(tenantId, { title: 'Replica lag' });
  await h.ctx.ledger.receive(a, new Date());
  const request = { tenantId, channelId: channelIds[0]!, kind: 'digest' as const, alertIds: [a.id], key: `d-${tenantId}-1-abcdef0123456789` };
  const queued = deliverJob(request);
  assert.is(deliverJobKey(queued.opts.jobId, request.channelId), request.key);
  // The deliver job runs first, as a free worker may before the fan-out's own write.
  await processDelivery({ name: 'deliver', id: queued.opts.jobId, data: queued.data, attemptsMade: 0, opts: queued.opts } as unknown as Job, h.ctx);
  await h.ctx.ledger.apply([a.id], { outcome: 'delivering', pendingChannels: [{ id: request.channelId, name: 'kf', type: 'webhook' }], jobKey: request.key });
  const rows = (await superuserQuery(h.db.url, `SELECT outcome, job_key FROM alert_deliveries WHERE alert_id = $1`, [a.id])).rows;
  assert.equal(rows, [{ outcome: 'delivered', job_key: request.key }]);
  assert.is(deliverJobKey('deliver-x', request.channelId), undefined, 'an id of another shape names no key');
});

test('the sweep and bulwark_alerts_stuck report alerts delivering with no change for an hour, naming tenant and id, and not fresh ones', async () => {
  const { tenantId } = await h.tenantWithHooks('stale', ['/st']);
  const [old, fresh] = [h.alertFor(tenantId), h.alertFor(tenantId)];
  for (const a of [old, fresh]) {
    await h.ctx.ledger.receive(a, new Date());
    await h.ctx.ledger.apply([a.id], { outcome: 'delivering' });
  }
  await superuserQuery(h.db.url, `UPDATE alert_ledger SET updated_at = now() - interval '2 hours' WHERE id = $1`, [old.id]);
  const logs = captureLogs();
  const logger = createLogger({ env: 'dev', logLevel: 'info' }, logs.stream);
  const result = await sweep({ ...h.ctx, logger, clock: () => new Date() });
  // This file's database holds exactly one row delivering and unchanged for two hours.
  assert.is(result.stale.delivering, 1);
  const line = logs.events().find((l) => l.event === 'alert_stale' && l.outcome === 'delivering');
  assert.ok(line, logs.text());
  assert.is(line.count, 1);
  assert.ok((line.tenants as string[]).includes(tenantId));
  assert.ok((line.alert_ids as string[]).includes(old.id));
  assert.not.ok((line.alert_ids as string[]).includes(fresh.id), 'a row that changed recently is not stale');
  // The same count reaches Prometheus at scrape time (rule AlertsStuck).
  const stuck = /bulwark_alerts_stuck\{state="delivering"\} (\d+)/.exec(await h.bulwark.ctx.metrics.registry.metrics())?.[1];
  assert.is(Number(stuck), 1);
  await superuserQuery(h.db.url, `UPDATE alert_ledger SET outcome = 'failed' WHERE id = ANY($1::uuid[])`, [[old.id, fresh.id]]);
});

test('the sweep queues again the deliver job of a send waiting for an hour whose job is gone, and leaves one whose job still waits', async () => {
  const lostTenant = await h.tenantWithHooks('lost-job', ['/lost']);
  const keptTenant = await h.tenantWithHooks('kept-job', ['/kept']);
  const [lost, kept] = [h.alertFor(lostTenant.tenantId), h.alertFor(keptTenant.tenantId)];
  h.receiver.next(replies.serverError, replies.tooMany('3600'));
  await processAlert({ v: 1, alert: lost }, h.ctx, firstRun); // 500: handed over to a job after the backoff
  await processAlert({ v: 1, alert: kept }, h.ctx, firstRun); // 429: handed over to a job an hour away
  const lostJob = await waitFor(() => h.ctx.deliveries.getJob(`deliver-${lost.id}-${lostTenant.channelIds[0]}`), 'the hand-over job');
  await lostJob.remove(); // lost, by something outside Bulwark
  await superuserQuery(h.db.url, `UPDATE alert_ledger SET updated_at = now() - interval '2 hours' WHERE id = ANY($1::uuid[])`, [[lost.id, kept.id]]);
  const logs = captureLogs();
  const result = await sweep({ ...h.ctx, logger: createLogger({ env: 'dev', logLevel: 'info' }, logs.stream), clock: () => new Date() });
  assert.is(result.requeued, 1);
  const line = logs.events().find((l) => l.event === 'alert_requeued');
  assert.equal(line?.alert_ids, [lost.id], logs.text());
  await h.delivered(lost.id, 15_000);
  assert.is(h.hitsAt('/lost'), 2, 'the failed inline attempt, then the job queued again');
  assert.is(await (await h.ctx.deliveries.getJob(`deliver-${kept.id}-${keptTenant.channelIds[0]}`))?.getState(), 'delayed', 'the waiting job is kept as it was');
  assert.is(h.hitsAt('/kept'), 1);
  assert.is((await sweep({ ...h.ctx, clock: () => new Date() })).requeued, 0, 'a job that still exists is not reported again');
});

test('the sweep queues again a digest\'s or group\'s part whose deliver job is gone, all its waiting alerts in one job, and leaves a part whose job still waits', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('lost-parts', ['/parts']);
  const channel = { id: channelIds[0]!, name: 'hook-0', type: 'webhook' as const };
  const rowsOf = async (change: { outcome: 'deferred'; reason: string; deferUntil: Date } | { outcome: 'grouped'; reason: string; groupId: string; deferUntil: Date }, n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const a = h.alertFor(tenantId, { title: `Part alert ${i}` });
      await h.ctx.ledger.receive(a, new Date());
      ids.push(a.id);
    }
    await h.ctx.ledger.apply(ids, change);
    return ids;
  };
  const past = new Date(Date.now() - 3 * 3_600_000);
  const digest = await rowsOf({ outcome: 'deferred', reason: 'quiet_hours', deferUntil: past }, 3);
  const group = await rowsOf({ outcome: 'grouped', reason: 'grouped', groupId: randomUUID(), deferUntil: past }, 2);
  const kept = await rowsOf({ outcome: 'deferred', reason: 'quiet_hours', deferUntil: past }, 1);
  const alone = await rowsOf({ outcome: 'grouped', reason: 'group_opened', groupId: randomUUID(), deferUntil: past }, 1);
  // Each part's send was queued and its rows say so (as a flush or digest does), then
  // the digest's and the groups' jobs were lost; the third part's job waits an hour.
  for (const [ids, key] of [[digest, 'd-lost-digest'], [group, 'g-lost-group'], [kept, 'd-kept'], [alone, 'g-lost-alone']] as const) {
    await h.ctx.ledger.apply([...ids], { outcome: 'delivering', pendingChannels: [channel], jobKey: key });
  }
  await enqueueDeliveries(h.ctx.deliveries, [{ tenantId, channelId: channel.id, kind: 'digest', alertIds: kept, key: 'd-kept', delayMs: 3_600_000 }]);
  // One digest alert changed recently (another channel's result, say): it still goes
  // back in its part's job with the others, or that job would never send it.
  await superuserQuery(h.db.url, `UPDATE alert_ledger SET updated_at = now() - interval '2 hours' WHERE id = ANY($1::uuid[])`, [[...digest.slice(1), ...group, ...kept, ...alone]]);
  const result = await sweep({ ...h.ctx, clock: () => new Date() });
  assert.is(result.requeued, 3, 'the digest\'s part and the two groups\' parts');
  for (const id of [...digest, ...group, ...alone]) await h.delivered(id, 15_000);
  const bodies = h.requestsAt('/parts').map((r) => JSON.parse(r.body) as { alertIds: string[]; title: string });
  assert.equal(bodies.map((b) => [...b.alertIds].sort()).sort((a, b) => a.length - b.length), [alone, [...group].sort(), [...digest].sort()], 'one message per part, listing its alerts');
  assert.is(bodies.find((b) => b.alertIds[0] === alone[0])?.title, 'Part alert 0', 'a group of one goes out as its alert\'s own message, as its flush sent it');
  assert.match(bodies.find((b) => b.alertIds.length === 2)?.title ?? '', /^2 alerts: /);
  assert.is(await (await h.ctx.deliveries.getJob(`deliver-d-kept-${channel.id}`))?.getState(), 'delayed', 'the waiting job is kept as it was');
  assert.is(await h.outcomeOf(kept[0]!), 'delivering');
  assert.is((await sweep({ ...h.ctx, clock: () => new Date() })).requeued, 0);
});

test.run();
