// A digest or group holds alerts of several severities: each channel gets those whose
// severity it takes, and only those (a high/critical channel received a whole quiet-
// hours digest of info and warning alerts, found by a fresh-user review). Real Redis,
// Postgres and a recording receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from 'bullmq';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { processDelivery } from '../../../workers/alert/jobs/delivery.js';
import { startAlertHarness, system, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { setup } from '../../helpers/lifecycle.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

const titlesAt = (path: string) => h.requestsAt(path).map((r) => (JSON.parse(r.body) as { items: Array<{ title: string }> }).items.map((i) => i.title).sort());

test('a digest of info, warning and high alerts: each channel gets the alerts of the severities it takes, and every row is delivered', async () => {
  const { tenantId } = await h.tenantWithHooks('digest-routing', ['/all']);
  for (const [name, severities] of [['high-only', ['high', 'critical']], ['info-only', ['info']], ['critical-only', ['critical']]] as const) {
    await addChannel(h.bulwark.ctx.prisma, { tenantId, name, type: 'webhook', target: `${h.receiver.url}/${name}`, secretRef: 'secret://hook', severities: [...severities] }, system, LOOPBACK_TARGETS);
  }
  const until = new Date(Date.now() - 1000);
  const alerts = (['info', 'warning', 'high'] as const).map((severity) => h.alertFor(tenantId, { severity, title: `quiet ${severity}` }));
  for (const a of alerts) await h.ctx.ledger.receive(a, new Date());
  await h.ctx.ledger.apply(alerts.map((a) => a.id), { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until });
  await processDelivery({ name: 'digest', data: { v: 1, tenantId, until: until.toISOString() } } as unknown as Job, h.ctx);
  for (const a of alerts) await h.delivered(a.id, 15_000);
  await h.deliveriesIdle();
  assert.equal(titlesAt('/all'), [['quiet high', 'quiet info', 'quiet warning']]);
  assert.equal(titlesAt('/high-only'), [['quiet high']]);
  assert.equal(titlesAt('/info-only'), [['quiet info']]);
  assert.equal(titlesAt('/critical-only'), [], 'a channel taking none of them gets nothing');
  // Each alert's channel rows are exactly the channels taking its severity.
  const rows = (await superuserQuery(h.db.url, `SELECT l.title, string_agg(d.channel, ',' ORDER BY d.channel) AS channels FROM alert_ledger l JOIN alert_deliveries d ON d.alert_id = l.id WHERE l.tenant_id = $1 GROUP BY l.title ORDER BY l.title`, [tenantId])).rows;
  assert.equal(rows, [
    { title: 'quiet high', channels: 'high-only,hook-0' },
    { title: 'quiet info', channels: 'hook-0,info-only' },
    { title: 'quiet warning', channels: 'hook-0' },
  ]);
});

test.run();
