// A 429 pauses the channel, not only the message it answered: until Retry-After has
// passed nothing more is sent to that channel (inline or queued), no attempt is spent
// waiting, and other channels go on. Real Redis, Postgres and a recording receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { channelPauseKey } from '../../../workers/alert/sending/pause.js';
import { enqueueDeliveries } from '../../../workers/alert/jobs/deliver-jobs.js';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { firstRun, startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { setup } from '../../helpers/lifecycle.js';
import { replies } from '../../helpers/receiver.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

const requestsAt = (path: string) => h.receiver.requests.filter((r) => r.path === path);
const attemptsOf = async (alertId: string) =>
  (await superuserQuery(h.db.url, 'SELECT attempts FROM alert_deliveries WHERE alert_id = $1', [alertId])).rows.map((r) => r.attempts as number);

test('a 429 pauses the channel: the next alert waits for the pause without a request or an attempt; another channel goes on', async () => {
  const { tenantId } = await h.tenantWithHooks('paused-channel', ['/p'], { cooldownSeconds: 0 });
  const other = await h.tenantWithHooks('not-paused', ['/q']);
  h.receiver.next(replies.tooMany('2'));
  const [first, second] = [h.alertFor(tenantId, { type: 'a' }), h.alertFor(tenantId, { type: 'b' })];
  await processAlert({ v: 1, alert: first }, h.ctx, firstRun);
  const pausedAt = requestsAt('/p')[0]!.receivedAt.getTime();
  const ttl = await h.bulwark.ctx.redis.pttl(channelPauseKey(h.bulwark.ctx.config.queuePrefix, tenantId, (await h.bulwark.ctx.prisma.alertChannel.findFirstOrThrow({ where: { tenantId } })).id));
  assert.ok(ttl > 0 && ttl <= 2000, `the pause is kept in Redis for the Retry-After (${ttl} ms left)`);

  await processAlert({ v: 1, alert: second }, h.ctx, firstRun);
  assert.is(requestsAt('/p').length, 1, 'the second alert was not sent into the pause');
  const row = (await superuserQuery(h.db.url, 'SELECT outcome, last_error FROM alert_ledger WHERE id = $1', [second.id])).rows[0];
  assert.is(row.outcome, 'delivering');
  assert.match(row.last_error, /^channel paused until .+ \(429\)$/);

  const elsewhere = h.alertFor(other.tenantId);
  await processAlert({ v: 1, alert: elsewhere }, h.ctx, firstRun);
  assert.is(await h.outcomeOf(elsewhere.id), 'delivered', 'another channel is not paused');

  await h.delivered(first.id, 15_000);
  await h.delivered(second.id, 15_000);
  const later = requestsAt('/p').slice(1);
  assert.is(later.length, 2, 'each alert sent once after the pause');
  // BullMQ promotes a delayed job at its time; a little slack for the clocks of the two sides.
  for (const r of later) assert.ok(r.receivedAt.getTime() >= pausedAt + 1900, `sent ${r.receivedAt.getTime() - pausedAt} ms after the 429`);
  assert.equal([await attemptsOf(first.id), await attemptsOf(second.id)], [[1], [1]], 'waiting spent no attempt');
});

test('a queued deliver job for a paused channel waits in delayed until the pause ends, then sends once', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('paused-queued', ['/r']);
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  const until = Date.now() + 1500;
  await h.ctx.pauses.pause(tenantId, channelIds[0]!, until);
  await enqueueDeliveries(h.ctx.deliveries, [{ tenantId, channelId: channelIds[0]!, kind: 'single', alertIds: [alert.id], key: alert.id }]);
  const job = await h.ctx.deliveries.getJob(`deliver-${alert.id}-${channelIds[0]}`);
  assert.ok(job);
  await h.delivered(alert.id, 15_000);
  const sent = requestsAt('/r');
  assert.is(sent.length, 1);
  assert.ok(sent[0]!.receivedAt.getTime() >= until - 100, `sent ${until - sent[0]!.receivedAt.getTime()} ms before the pause ended`);
  assert.equal(await attemptsOf(alert.id), [1]);
});

test.run();
