// bulwark_alert_delivery_jobs_lost_total counts the alert-delivery jobs that fail for
// good without recording an outcome, and only those: an invalid payload counts, a send
// the receiver refused (recorded as failed/rejected) does not, though both jobs fail.
// Real Redis, Postgres and a recording receiver; the running Bulwark's own workers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { firstRun, startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { waitFor } from '../../helpers/env.js';
import { setup } from '../../helpers/lifecycle.js';
import { replies } from '../../helpers/receiver.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

const metric = async (series: string) => {
  const line = (await h.bulwark.ctx.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};
const lost = (kind: string) => metric(`bulwark_alert_delivery_jobs_lost_total{kind="${kind}"}`);
const finalFailures = () => metric('bulwark_jobs_failed_total{queue="alert-delivery",final="true"}');

test('an invalid deliver job that fails for good counts as lost; a refused send, recorded as failed, does not', async () => {
  assert.equal([await lost('deliver'), await lost('digest'), await finalFailures()], [0, 0, 0], 'the series exist at 0 from the start');

  const bad = await h.ctx.deliveries.add('deliver', { v: 1, tenantId: 'not-a-uuid' });
  await waitFor(async () => ((await bad.getState()) === 'failed' ? true : undefined), 'the invalid job failed');
  await waitFor(async () => ((await lost('deliver')) === 1 ? true : undefined), 'counted as lost');

  // A send refused by the receiver: the inline attempt records failed/rejected; then a
  // queued deliver job for the same channel meets a 400 too and fails, recorded.
  const { tenantId, channelIds } = await h.tenantWithHooks('refused', ['/refused']);
  h.receiver.always(replies.badRequest);
  try {
    const alert = h.alertFor(tenantId);
    await processAlert({ v: 1, alert }, h.ctx, firstRun);
    assert.is(await h.outcomeOf(alert.id), 'failed');
    const refused = await h.ctx.deliveries.add('deliver', { v: 1, tenantId, channelId: channelIds[0]!, kind: 'single', alertIds: [alert.id] }, { attempts: 1 });
    await waitFor(async () => ((await refused.getState()) === 'failed' ? true : undefined), 'the refused job failed');
    await waitFor(async () => ((await finalFailures()) === 2 ? true : undefined), 'both jobs counted as failed for good');
    assert.is(await lost('deliver'), 1, 'the refused send was recorded: not lost');
  } finally {
    h.receiver.always(replies.ok);
  }
});

test('a failed job of a name the queue does not use counts as other, not as a new series', async () => {
  const before = await lost('other');
  assert.is(before, 0, 'the other series exists at 0 from the start');
  const stray = await h.ctx.deliveries.add('made-up-kind', { v: 1 }, { attempts: 1 });
  await waitFor(async () => ((await stray.getState()) === 'failed' ? true : undefined), 'the stray job failed');
  await waitFor(async () => ((await lost('other')) === 1 ? true : undefined), 'counted as other');
  assert.is(await lost('made-up-kind'), undefined, 'no series named after the job');
});

test.run();
