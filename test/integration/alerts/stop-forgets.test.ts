// Stopping Bulwark right as alerts finish: the remembered decisions their jobs forget
// after finishing are sent before the Redis connection closes, not lost to it (they
// would linger until their TTL and log alert_forget_failed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { decidedKey } from '../../../lib/alerts/decide.js';
import { createProducer } from '../../../producers/index.js';
import { startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { captureLogs, REDIS_URL } from '../../helpers/env.js';

const logs = captureLogs();
let h: AlertHarness;
test.before(async () => {
  h = await startAlertHarness({ logs });
});
test.after(async () => {
  await h.close();
});

test('a stop just after the last delivery still forgets every remembered decision', async () => {
  const { tenantId } = await h.tenantWithHooks('stop-forgets', ['/hook'], { maxPerWindow: 1000, cooldownSeconds: 0 });
  const producer = createProducer({ queuePrefix: h.bulwark.ctx.config.queuePrefix });
  const alerts = Array.from({ length: 200 }, () => { const { source: _source, ...a } = h.alertFor(tenantId); return a; });
  try {
    await Promise.all(alerts.map((a) => producer.alert.send(a)));
  } finally {
    await producer.close();
  }
  // Polled every turn, not every 50 ms: the stop must begin while the last jobs are still
  // recording their delivery and have not forgotten yet.
  // 120 s: a bound for a hang, not a speed; 200 deliveries took more than 20 s on a busy machine.
  const deadline = Date.now() + 120_000;
  while (h.hitsAt('/hook') < alerts.length) {
    if (Date.now() > deadline) throw new Error(`only ${h.hitsAt('/hook')} of ${alerts.length} alerts reached the receiver`);
    await new Promise((r) => setImmediate(r));
  }
  await h.bulwark.stop();
  const redis = new Redis(REDIS_URL);
  try {
    const left = await Promise.all(alerts.map((a) => redis.exists(decidedKey(h.bulwark.ctx.config.queuePrefix, tenantId, a.id))));
    assert.equal(left.filter(Boolean).length, 0, 'remembered decisions left behind');
  } finally {
    redis.disconnect();
  }
  assert.not.ok(logs.text().includes('alert_forget_failed'), 'a forget failed during the stop');
});

test.run();
