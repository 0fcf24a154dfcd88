/**
 * audit-write contract: queue name, entry schema, job payload schema (versioned by
 * `v`) and queue policy. See docs/jobs/audit-write.md.
 */
import { z } from 'zod';
import { INSTANT, JSON_OBJECT, TENANT_ID, TEXT, type QueuePolicy } from './common.js';
import { defineJob, type QueueDefinition } from './job.js';

export const AUDIT_WRITE_QUEUE = 'audit-write';
export const AUDIT_VERIFY_QUEUE = 'audit-verify';
export const AUDIT_WRITE_JOB = 'write';
export const AUDIT_MAX_ENTRIES_PER_JOB = 1000;
/**
 * Most bytes of entries (as JSON) one audit-write job may carry: 4 MiB. Entries may
 * hold up to ~150 KB of JSON each, so 1,000 of them could make a 150 MB job, which
 * Redis would store and every worker that took it would hold in memory.
 */
export const AUDIT_MAX_JOB_BYTES = 4 * 1024 * 1024;

/** Largest `metadata` of an entry, as JSON bytes (once redacted: see producers/index.ts). */
export const AUDIT_METADATA_MAX_BYTES = 16384;
/** Largest `before` or `after` state of an entry, as JSON bytes (once redacted). */
export const AUDIT_STATE_MAX_BYTES = 65536;

export const ACTOR_TYPES = ['user', 'service', 'ai', 'system'] as const;
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/** `domain:verb`, e.g. `task:completed`, `security:auth-failed`. */
const ACTION = /^[a-z][a-z0-9_-]*(:[a-z0-9][a-z0-9_.-]*)+$/;
/** Caller-chosen idempotency key: letters, digits and . _ : - (a UUID fits). */
const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * An entry's client address: IPv4 or IPv6 as written, no zone id (`%eth0`), which
 * names an interface of the host that saw the address and means nothing elsewhere.
 */
export const AUDIT_IP = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

const entryShape = {
  tenantId: TENANT_ID,
  eventId: z
    .string()
    .regex(EVENT_ID, 'must be 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit'),
  occurredAt: INSTANT,
  actorType: z.enum(ACTOR_TYPES, { error: `must be one of ${ACTOR_TYPES.join(', ')}` }),
  actorId: TEXT(255).optional(),
  action: z
    .string()
    .max(100, 'must be at most 100 characters')
    .regex(ACTION, 'must look like "domain:verb", e.g. "task:completed" or "security:auth-failed"'),
  resourceType: TEXT(100).pipe(z.string().min(1, 'must not be empty')),
  resourceId: TEXT(255).optional(),
  before: JSON_OBJECT(AUDIT_STATE_MAX_BYTES).nullable().optional(),
  after: JSON_OBJECT(AUDIT_STATE_MAX_BYTES).nullable().optional(),
  metadata: JSON_OBJECT(AUDIT_METADATA_MAX_BYTES).nullable().optional(),
  reason: TEXT(4000).optional(),
  confidence: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional(),
  requestId: TEXT(128).optional(),
  ip: AUDIT_IP.optional(),
  userAgent: TEXT(512).optional(),
  severity: z.enum(SEVERITIES, { error: `must be one of ${SEVERITIES.join(', ')}` }).optional(),
};

type EntryLike = {
  actorType: string;
  action: string;
  reason?: string | undefined;
  confidence?: number | undefined;
  severity?: string | undefined;
};

/** Rules that tie fields together (checked on producer input and job payload alike). */
function crossFieldRules(e: EntryLike, ctx: z.RefinementCtx): void {
  if (e.actorType === 'ai') {
    if (typeof e.reason !== 'string' || e.reason.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'is required when actorType is "ai"' });
    }
    if (e.confidence === undefined) {
      ctx.addIssue({ code: 'custom', path: ['confidence'], message: 'is required when actorType is "ai"' });
    }
  }
  if (typeof e.action === 'string' && e.action.startsWith('security:') && e.severity === undefined) {
    ctx.addIssue({ code: 'custom', path: ['severity'], message: 'is required for security:* actions' });
  }
}

/** Run the cross-field rules even when other fields failed (one error names every problem), but only on an object. */
const onObjects = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null,
};

/** What application code passes to `audit.write`: eventId and occurredAt are optional. */
export const auditEntryInputSchema = z
  .object({ ...entryShape, eventId: entryShape.eventId.optional(), occurredAt: INSTANT.optional() })
  .strict()
  .superRefine(crossFieldRules, onObjects);

/** An entry as carried in a job: eventId and occurredAt are always set. */
export const auditEntrySchema = z.object(entryShape).strict().superRefine(crossFieldRules, onObjects);

/** The audit-write job payload. One job carries 1 to 1000 entries. */
export const auditWriteJobSchema = z
  .object({
    v: z.literal(1),
    entries: z
      .array(auditEntrySchema)
      .min(1, 'must hold at least one entry')
      .max(AUDIT_MAX_ENTRIES_PER_JOB, `must hold at most ${AUDIT_MAX_ENTRIES_PER_JOB} entries`),
  })
  .strict();

export type AuditEntryInput = z.input<typeof auditEntryInputSchema>;
export type AuditEntry = z.output<typeof auditEntrySchema>;
export type AuditWriteJob = z.output<typeof auditWriteJobSchema>;

/** What a completed audit-write job returns: where each entry landed in its chain. */
export interface AuditWriteResult {
  written: number;
  duplicates: number;
  entries: Array<{ eventId: string; seq: string; duplicate: boolean }>;
}

/** The audit-verify job payload: one tenant, or every tenant when absent. */
export const auditVerifyJobSchema = z.object({ v: z.literal(1), tenantId: TENANT_ID.optional() }).strict();
export type AuditVerifyJob = z.output<typeof auditVerifyJobSchema>;

export const auditWritePolicy: QueuePolicy = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 500 },
  concurrency: 200,
  limiter: { max: 50000, duration: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

export const auditVerifyPolicy: QueuePolicy = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10000 },
  concurrency: 1,
  limiter: { max: 10, duration: 1000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

/** Dispatched fairly by entries: a tenant's turn sends one full job; FAIR_AUDIT_WINDOW entries in flight. */
export const auditWriteQueue: QueueDefinition = {
  name: AUDIT_WRITE_QUEUE,
  policy: auditWritePolicy,
  fair: {
    setting: 'auditWrite',
    unit: 'entries',
    quantum: AUDIT_MAX_ENTRIES_PER_JOB,
    defaultWindow: 16000,
    window: (config) => config.fair.auditWindow,
  },
};
export const auditVerifyQueue: QueueDefinition = { name: AUDIT_VERIFY_QUEUE, policy: auditVerifyPolicy };

/** One job of 1 to 1000 entries, enqueued by producers/index.ts. */
export const auditWriteJob = defineJob({ queue: auditWriteQueue, name: AUDIT_WRITE_JOB, schema: auditWriteJobSchema });

/** Walks the chains, on AUDIT_VERIFY_CRON (UTC) and on demand. */
export const auditVerifyJob = defineJob({
  queue: auditVerifyQueue,
  name: 'verify',
  schema: auditVerifyJobSchema,
  schedule: {
    id: 'audit-verify-hourly',
    repeat: (config) => ({ pattern: config.auditVerifyCron, tz: 'UTC' }),
    data: { v: 1 },
  },
});

/** A security entry of this severity also raises an alert. */
export function raisesSecurityAlert(e: Pick<AuditEntry, 'action' | 'severity'>): boolean {
  return e.action.startsWith('security:') && (e.severity === 'high' || e.severity === 'critical');
}
