// The request id reaches the alert job as it reaches the audit job: POST /v1/alerts
// carries its X-Request-Id into the job's data, and a security alert raised by an
// audit entry carries that entry's request id, so an alert can be traced back to the
// request that caused it. The alert worker takes such jobs (its schema is strict).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { ALERT_QUEUE, type AlertJob } from '../../../lib/contracts/alert.js';
import { waitFor } from '../../helpers/env.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
let alerts: Queue<AlertJob>;

test.before(async () => {
  api = await startApi();
  tenant = await api.tenant('alert-request-id');
  alerts = new Queue<AlertJob>(ALERT_QUEUE, { connection: api.bulwark.ctx.redis, prefix: api.bulwark.ctx.config.queuePrefix });
});
test.after(async () => {
  await alerts?.close();
  await api?.close();
});

test('POST /v1/alerts: the X-Request-Id is in the alert job, not a requestId the body names', async () => {
  const res = await api.call('POST', '/v1/alerts', {
    key: tenant.adminKey,
    body: { type: 'disk.full', severity: 'warning', title: 'Disk almost full', requestId: 'from-the-body' },
    headers: { 'x-request-id': 'req-alert-7' },
  });
  assert.is(res.status, 202, await res.clone().text());
  const { jobId, requestId } = (await res.json()) as { jobId: string; requestId: string };
  assert.is(requestId, 'req-alert-7');
  const job = await alerts.getJob(jobId);
  assert.is(job?.data.alert.requestId, 'req-alert-7', JSON.stringify(job?.data));
  // The worker parses the job with its strict schema: a field it did not know would fail it.
  const state = await waitFor(async () => {
    const s = await alerts.getJobState(jobId);
    return s === 'completed' || s === 'failed' ? s : undefined;
  }, 'the alert job to finish');
  assert.is(state, 'completed', (await alerts.getJob(jobId))?.failedReason);
});

test('a security alert raised by an audit entry carries the entry\'s request id', async () => {
  const res = await api.call('POST', '/v1/audit', {
    key: tenant.adminKey,
    body: { actorType: 'user', actorId: 'u-1', action: 'security:login-failed', resourceType: 'user', resourceId: 'u-1', severity: 'high' },
    headers: { 'x-request-id': 'req-security-9' },
  });
  assert.is(res.status, 202, await res.clone().text());
  const { eventId } = (await res.json()) as { eventId: string };
  const job = await waitFor(async () => {
    const jobs = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    return jobs.find((j) => j.data.alert.source?.auditEventId === eventId);
  }, 'the security alert job');
  assert.is(job.data.alert.requestId, 'req-security-9');
});

test.run();
