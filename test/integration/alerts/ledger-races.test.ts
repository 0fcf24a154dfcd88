// Ledger writes that race across processes: a statement whose snapshot predates another
// process's commit must not leave an alert delivering for ever. Each race is made
// certain by holding the other process's write open in a transaction of its own until
// the statement under test waits for it, then committing. Real Postgres and Redis.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { setup } from '../../helpers/lifecycle.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

const deliveriesOf = async (alertId: string) =>
  (await superuserQuery(h.db.url, 'SELECT channel, outcome FROM alert_deliveries WHERE alert_id = $1 ORDER BY channel', [alertId])).rows.map((r) => `${r.channel}:${r.outcome}`);

/** Run `other` in an open transaction, start `underTest`, wait until it waits on a lock, then commit `other`. */
async function whileAnotherCommits<T>(other: (c: pg.Client) => Promise<void>, underTest: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: h.db.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await other(client);
    const running = underTest();
    await waitFor(async () => (await superuserQuery(h.db.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n > 0, 'the statement under test waiting on the open transaction');
    await client.query('COMMIT');
    return await running;
  } finally {
    await client.end();
  }
}

test('a channel\'s result committed while a fan-out\'s statement runs (a fast queued job under load): the finished alert stays finished', async () => {
  // Before the fix the fan-out judged the channel by its snapshot, which missed the
  // commit, and reopened the alert: a 1,001-alert digest stayed delivering in CI.
  const { tenantId, channelIds } = await h.tenantWithHooks('late-commit', ['/late-commit']);
  const channel = { id: channelIds[0]!, name: 'hook-0', type: 'webhook' as const };
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  const changed = await whileAnotherCommits(async (job) => {
    await job.query(`INSERT INTO alert_deliveries (alert_id, channel_id, channel, channel_type, outcome, attempts, last_status, delivered_at) VALUES ($1, $2, 'hook-0', 'webhook', 'delivered', 1, 200, now())`, [alert.id, channel.id]);
    await job.query(`UPDATE alert_ledger SET outcome = 'delivered', delivered_at = now() WHERE id = $1`, [alert.id]);
  }, () => h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: [channel] }));
  assert.equal(changed, [], 'the fan-out changed nothing: its one channel had finished');
  assert.is(await h.outcomeOf(alert.id), 'delivered');
  assert.equal(await deliveriesOf(alert.id), ['hook-0:delivered']);
});

test('two channels\' results committed at once: the alert is settled at once from its channels, not left delivering for the sweep', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('both-finish', ['/bf-0', '/bf-1']);
  const channels = channelIds.map((id, i) => ({ id, name: `hook-${i}`, type: 'webhook' as const }));
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels });
  // The other process's round for hook-0: its snapshot still saw hook-1 delivering, so it
  // left the alert delivering, as the one under test will judge hook-0 by its snapshot.
  await whileAnotherCommits(async (job) => {
    await job.query(`UPDATE alert_deliveries SET outcome = 'delivered', attempts = 1, last_status = 200, delivered_at = now() WHERE alert_id = $1 AND channel_id = $2`, [alert.id, channels[0]!.id]);
    await job.query(`UPDATE alert_ledger SET outcome = 'delivering', updated_at = now() WHERE id = $1`, [alert.id]);
  }, () => h.ctx.ledger.apply([alert.id], { outcome: 'failed', reason: 'rejected', channelId: channels[1]!.id, channel: 'hook-1', channelType: 'webhook', attempts: 1, status: 400, error: 'HTTP 400' }));
  const row = await h.rowOf(alert.id);
  assert.equal([row?.outcome, row?.reason, row?.channel, row?.last_status, row?.delivered_at], ['failed', 'rejected', 'hook-1', 400, null]);
  assert.equal(await deliveriesOf(alert.id), ['hook-0:delivered', 'hook-1:failed']);
});

test('two channels both delivered at once: delivered, at the later channel\'s time', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('both-deliver', ['/bd-0', '/bd-1']);
  const channels = channelIds.map((id, i) => ({ id, name: `hook-${i}`, type: 'webhook' as const }));
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels });
  const later = new Date(Date.now() + 5_000);
  await whileAnotherCommits(async (job) => {
    await job.query(`UPDATE alert_deliveries SET outcome = 'delivered', attempts = 1, last_status = 200, delivered_at = now() WHERE alert_id = $1 AND channel_id = $2`, [alert.id, channels[0]!.id]);
    await job.query(`UPDATE alert_ledger SET outcome = 'delivering', updated_at = now() WHERE id = $1`, [alert.id]);
  }, () => h.ctx.ledger.apply([alert.id], { outcome: 'delivered', channelId: channels[1]!.id, channel: 'hook-1', channelType: 'webhook', attempts: 1, status: 200, deliveredAt: later }));
  const row = await h.rowOf(alert.id);
  assert.is(row?.outcome, 'delivered');
  assert.is(row?.delivered_at?.getTime(), later.getTime());
  assert.ok(row!.delivery_ms !== null && row!.delivery_ms >= 4_000, String(row?.delivery_ms));
});

test.run();
