// A backup job that fails for good raises one backup:failed alert for the system tenant,
// with its runbook link, the kind, the job id, and the reason without credentials.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import type { AppContext } from '../../../lib/context.js';
import { ALERT_QUEUE, alertJobSchema } from '../../../lib/contracts/alert.js';
import { BACKUP_QUEUE, backupPolicy } from '../../../lib/contracts/backup.js';
import { backupFailureAlerter } from '../../../workers/backup/failure-alert.js';
import { createContext } from '../../../app/main.js';
import { createQueueWorker } from '../../../app/runtime/queue-worker.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

let db: TestDatabase;
let ctx: AppContext;
let alertQueue: Queue;
let backupQueue: Queue;
const RUNBOOKS = 'https://runbooks.example.com/docs/runbooks';

test.before(
  setup(async () => {
    db = await createTestDatabase();
    ctx = createContext(testConfig(db.url, { RUNBOOK_BASE_URL: RUNBOOKS, LOG_LEVEL: 'silent' }));
    alertQueue = new Queue(ALERT_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    backupQueue = new Queue(BACKUP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['queues', () => Promise.all([alertQueue?.close(), backupQueue?.close()])],
    ['obliterate', () => obliterateQueues(ctx.config.queuePrefix)],
    ['prisma', () => ctx?.prisma.$disconnect()],
    ['pool', () => ctx?.pg.end()],
    ['redis', () => ctx?.redis.quit()],
    ['database', () => db?.drop()],
  ]),
);

test('backup failure alert: a backup job failing for good raises backup:failed with its runbook, once', async () => {
  const onFinalFailure = backupFailureAlerter({
    alertQueue,
    runbookBaseUrl: ctx.config.runbookBaseUrl,
    logger: ctx.logger,
    clock: ctx.clock,
  });
  const worker = createQueueWorker(ctx, {
    queue: BACKUP_QUEUE,
    policy: backupPolicy,
    // The store answered with a URL holding a password: the alert must not carry it.
    processor: async () =>
      Promise.reject(new Error('could not reach postgresql://backup:hunter2secret@db.internal/bulwark')),
    // The alerter's promise is awaited by the test through the alert queue, not by the worker.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onFinalFailure,
  });
  void worker.run();
  try {
    await backupQueue.add(
      'database',
      { v: 1, kind: 'database' },
      { jobId: 'backup-fails', attempts: 2, backoff: { type: 'fixed', delay: 10 } },
    );
    const [job] = await waitFor(async () => {
      const jobs = await alertQueue.getJobs(['waiting', 'delayed', 'prioritized']);
      return jobs.length ? jobs : undefined;
    }, 'the backup:failed alert');
    const alert = alertJobSchema.parse(job!.data).alert;
    assert.is(alert.type, 'backup:failed');
    assert.is(alert.tenantId, SYSTEM_TENANT_ID);
    assert.is(alert.severity, 'critical');
    assert.is(alert.runbookUrl, `${RUNBOOKS}/backup-failing.md`);
    assert.equal(alert.labels, { source: 'backup', kind: 'database', job_id: 'backup-fails' });
    assert.match(alert.body!, /failed after 2 attempt\(s\)/);
    assert.not.match(JSON.stringify(job!.data), 'hunter2secret');
    // The same job failing again (a retry from Bull Board, say) raises the same alert id: enqueued once.
    await onFinalFailure(await backupQueue.getJob('backup-fails'), new Error('again'));
    assert.is((await alertQueue.getJobs(['waiting', 'delayed', 'prioritized'])).length, 1);
  } finally {
    await worker.close();
  }
});

test.run();
