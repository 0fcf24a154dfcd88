/**
 * The worker registry: every job kind Bulwark runs, one line each, pairing its
 * definition (lib/contracts/) with its handler (the processor folder's). The
 * composition root builds from this list one queue handle and one BullMQ Worker per
 * queue, the scheduler's repeatable jobs, shutdown's drains, and the queues metrics and
 * Bull Board show. The order is the order of start-up, drains and listings.
 */
import { alertJob } from '../lib/contracts/alert.js';
import { deliverJob, digestJob, groupFlushJob, sweepJob } from '../lib/contracts/alert-delivery.js';
import { auditVerifyJob, auditWriteJob } from '../lib/contracts/audit.js';
import { auditCheckpointJob } from '../lib/contracts/checkpoint.js';
import { backupJob } from '../lib/contracts/backup.js';
import { backupNightlyJob, backupPruneJob, restoreDrillJob } from '../lib/contracts/drill.js';
import { retentionRunJob, retentionTenantJob } from '../lib/contracts/retention.js';
import { alertHandlers } from './alert/index.js';
import { auditHandlers } from './audit/index.js';
import { backupFailureHook } from './backup/failure-alert.js';
import { backupHandlers } from './backup/index.js';
import { upkeepHandlers } from './backup/upkeep.js';
import { retentionHandlers } from './retention/index.js';
import { register, type Registration } from './registration.js';

export const registry: readonly Registration[] = [
  register(auditWriteJob, auditHandlers.write),
  register(auditVerifyJob, auditHandlers.verify),
  register(auditCheckpointJob, auditHandlers.checkpoint),
  register(alertJob, alertHandlers.alert),
  register(deliverJob, alertHandlers.deliver),
  register(groupFlushJob, alertHandlers.groupFlush),
  register(digestJob, alertHandlers.digest),
  register(sweepJob, alertHandlers.sweep),
  // A backup failing for good raises a backup:failed alert (workers/backup/failure-alert.ts).
  register(backupJob, { ...backupHandlers.backup, onFinalFailure: backupFailureHook }),
  register(backupNightlyJob, upkeepHandlers.nightly),
  register(backupPruneJob, upkeepHandlers.prune),
  register(restoreDrillJob, upkeepHandlers.drill),
  register(retentionRunJob, retentionHandlers.run),
  register(retentionTenantJob, retentionHandlers.tenant),
];
