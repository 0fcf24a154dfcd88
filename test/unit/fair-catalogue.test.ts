// Fair dispatch comes from the job catalogue: the fair kinds are the queues whose
// definition declares `fair` (lib/contracts/job.ts), and each queue's window is what its
// definition says, so no code lists the fair queues or branches on their names.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fairWindows, queuesOf } from '../../app/workers.js';
import { fairKindsOf } from '../../lib/fair/kinds.js';
import { registry } from '../../workers/registry.js';

const queues = queuesOf(registry);

test('the fair kinds are the registry queues that declare fair, with their costs and defaults', () => {
  assert.equal(
    fairKindsOf(queues).map((k) => [k.queue, k.setting, k.unit, k.quantum, k.defaultWindow]),
    [
      ['audit-write', 'auditWrite', 'entries', 1000, 16000],
      ['alert', 'alert', 'jobs', 1, 100],
      ['retention', 'retention', 'jobs', 1, 4],
    ],
  );
});

test("each fair queue's window comes from its definition: FAIR_AUDIT_WINDOW, FAIR_ALERT_WINDOW, twice the concurrency", () => {
  const retention = queues.find((q) => q.name === 'retention')!;
  assert.equal(
    [...fairWindows({ fair: { auditWindow: 1234, alertWindow: 56 } }, queues)],
    [
      ['audit-write', 1234],
      ['alert', 56],
      ['retention', 2 * retention.policy.concurrency],
    ],
  );
});

test.run();
