/**
 * The typed enqueue API application code imports. Every input is validated before
 * anything is added (a ValidationError names each bad field and nothing is enqueued);
 * secret-looking fields are redacted here already, so Redis never holds them.
 *
 * @example
 *   const producer = createProducer({ redisUrl: 'redis://127.0.0.1:6379' });
 *   await producer.audit.write({ tenantId, actorType: 'user', actorId: 'u1',
 *     action: 'task:completed', resourceType: 'task', resourceId: 't1' });
 *   await producer.close();
 */
import { createHash, randomUUID } from 'node:crypto';
import { Queue, type FlowProducer } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import {
  alertInputSchema,
  alertJob,
  RESERVED_ALERT_ID_VERSION,
  type AlertInput,
  type AlertJob,
} from '../lib/contracts/alert.js';
import {
  AUDIT_MAX_ENTRIES_PER_JOB,
  AUDIT_MAX_JOB_BYTES,
  AUDIT_METADATA_MAX_BYTES,
  AUDIT_STATE_MAX_BYTES,
  auditEntryInputSchema,
  auditWriteJob,
  raisesSecurityAlert,
  type AuditEntry,
  type AuditEntryInput,
  type AuditWriteJob,
} from '../lib/contracts/audit.js';
import { jsonBytesOver } from '../lib/contracts/common.js';
import { addJob, flowJobOf } from '../lib/contracts/enqueue.js';
import { ValidationError, type FieldProblem } from '../lib/errors.js';
import { redactSecrets } from '../lib/redact.js';
import { queuePrefixFor } from '../lib/redis-topology.js';
import { refineRunbookBaseUrl, runbookUrlFor } from '../lib/runbooks.js';
import { createWriteCoalescer, jsonBytes } from './coalesce.js';
import { createStrictFlowProducer } from './strict-flows.js';
import { createEnqueueBound } from './enqueue-bound.js';
import { createFairProducer } from './fair.js';
import { createObjects } from './objects.js';
import type { Storage } from '../lib/clients/storage.js';
import { parseEachOrThrow, parseOrThrow } from './validate.js';

export { ValidationError } from '../lib/errors.js';
export type { AuditEntryInput, AlertInput };

export interface ProducerOptions {
  /** Redis to enqueue on. Default: redis://127.0.0.1:6379. Ignored when `connection` is given. */
  redisUrl?: string;
  /**
   * An existing ioredis connection to share (a `Redis`, or a `Cluster` for a Redis
   * Cluster); the producer will not close it.
   */
  connection?: Redis | Cluster;
  /**
   * Prefix of BullMQ keys; must match the workers' (their QUEUE_PREFIX). Default:
   * bulwark. On a `Cluster` connection it is put in braces (`{bulwark}`), as the workers
   * do with REDIS_CLUSTER_NODES, unless it is given in braces already.
   */
  queuePrefix?: string;
  /** Clock for default occurredAt. Default: the system clock. */
  clock?: () => Date;
  /**
   * Called with connection errors of the producer's queues (they also surface as a
   * rejected write). Default: ignored here, so they do not reach stderr unformatted.
   */
  onError?: (err: Error) => void;
  /**
   * Let `audit.write` calls made in the same turn of the event loop share one job (up
   * to 1000 entries). Each call still validates its own entry and resolves only once
   * the shared job is in Redis; a failure rejects every call of the batch, and a retry
   * is safe (eventIds make entries idempotent). Default: true.
   */
  coalesceWrites?: boolean;
  /**
   * Where docs/runbooks is published (http or https, e.g.
   * `https://git.example.com/bulwark/blob/main/docs/runbooks`). Security alerts raised
   * from audit entries then link to `<runbookBaseUrl>/<page>.md`. Default: none, and
   * those alerts carry no runbookUrl (the alert contract takes only absolute http(s)
   * URLs). Bulwark passes its RUNBOOK_BASE_URL here.
   */
  runbookBaseUrl?: string;
  /**
   * The object store `producer.objects` writes to: `createStorage(loadConfig().storage)`
   * (lib/clients/storage.ts). Default: none, and `producer.objects` calls throw.
   */
  storage?: Storage;
  /**
   * Charge each job to its tenant and let the fair dispatcher hold a tenant's backlog
   * back so it cannot delay other tenants' work (docs/decisions/0010): a job goes to
   * BullMQ at once when there is room, else it is parked in Redis and released by
   * Bulwark's workers (of this release or later). false adds every job to BullMQ
   * directly, as before. Default: true.
   */
  fair?: boolean;
  /**
   * For a caller that must answer within a bound (Bulwark's HTTP API passes its
   * API_REDIS_TIMEOUT_MS): each write, writeMany and send rejects with a
   * `RedisDeadlineError` if it is not safely in Redis within this many ms of the call,
   * and then it never will be: the storing script refuses to run later than half of
   * it (lib/fair/deadline.ts). Needs `fair` (the script is fair dispatch's); without it
   * a refused call's command may still run. Default: none (wait as long as Redis takes).
   */
  enqueueTimeoutMs?: number;
}

export interface EnqueuedAudit {
  jobId: string;
  eventIds: string[];
}

const optionsSchema = z
  .object({
    redisUrl: z.string().startsWith('redis', 'must be a redis:// or rediss:// URL').optional(),
    connection: z
      .custom<Redis | Cluster>((v) => v instanceof Redis || v instanceof Cluster, 'must be an ioredis connection')
      .optional(),
    queuePrefix: z
      .string()
      .regex(
        /^(\{[A-Za-z0-9_-]{1,64}\}|[A-Za-z0-9_-]{1,64})$/,
        'must be 1-64 letters, digits, _ or -, optionally in braces',
      )
      .optional(),
    clock: z.custom<() => Date>((v) => typeof v === 'function', 'must be a function').optional(),
    onError: z.custom<(err: Error) => void>((v) => typeof v === 'function', 'must be a function').optional(),
    coalesceWrites: z.boolean({ error: 'must be true or false' }).optional(),
    runbookBaseUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .superRefine(refineRunbookBaseUrl)
      .optional(),
    storage: z
      .custom<Storage>(
        (v) => typeof v === 'object' && v !== null && 'client' in v && 'bucket' in v,
        'must be a Storage from createStorage',
      )
      .optional(),
    fair: z.boolean({ error: 'must be true or false' }).optional(),
    enqueueTimeoutMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(100, 'must be at least 100 ms')
      .max(60_000, 'must be at most 60000 ms')
      .optional(),
  })
  .strict();

/** BullMQ job ids may not contain ":"; a digest keeps them short and unique. */
function stableJobId(kind: string, ...parts: string[]): string {
  return `${kind}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}

/**
 * A UUID derived from its parts (stable across retries), version 8 (RFC 9562's custom
 * version): callers' alerts may not use that version (alertInputSchema), so a caller
 * who computes a security alert's id cannot take it first and so silence that alert.
 */
function uuidFrom(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${RESERVED_ALERT_ID_VERSION}${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The id of the alert a security entry raises: one per tenant and eventId. */
export function securityAlertIdFor(tenantId: string, eventId: string): string {
  return uuidFrom('security-alert', tenantId, eventId);
}

function securityAlertFor(e: AuditEntry, runbookBaseUrl: string | undefined): AlertJob {
  const runbookUrl = runbookUrlFor(runbookBaseUrl, e.action);
  return {
    v: 1,
    alert: {
      // Derived from the audit entry, so re-sending the entry re-sends the same alert.
      id: securityAlertIdFor(e.tenantId, e.eventId),
      tenantId: e.tenantId,
      type: e.action,
      severity: e.severity === 'critical' ? 'critical' : 'high',
      title: `Security event ${e.action} (${e.severity})`,
      body: `${e.actorType}${e.actorId ? ` ${e.actorId}` : ''} on ${e.resourceType}${e.resourceId ? ` ${e.resourceId}` : ''}`,
      labels: { source: 'audit', action: e.action },
      groupKey: e.action,
      ...(runbookUrl ? { runbookUrl } : {}),
      occurredAt: e.occurredAt,
      source: { auditEventId: e.eventId },
      // The request that wrote the entry (a denial's, say) is the one the alert traces to.
      ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
    },
  };
}

const JSON_LIMITS = [
  ['before', AUDIT_STATE_MAX_BYTES],
  ['after', AUDIT_STATE_MAX_BYTES],
  ['metadata', AUDIT_METADATA_MAX_BYTES],
] as const;

/**
 * The size limits of before, after and metadata hold for what is stored: the redacted
 * form, which the worker checks again. Redaction can make a field longer ("[REDACTED]"
 * for `"token": 1`, a masked URL password), and an object just under its limit as given
 * but over it once redacted was accepted, then refused by the worker at every attempt,
 * with every other entry of its job.
 */
function assertStoredSizes(entries: AuditEntry[], what: string, indexed: boolean): void {
  const problems: FieldProblem[] = [];
  entries.forEach((e, i) => {
    for (const [field, max] of JSON_LIMITS) {
      const size = e[field] ? jsonBytesOver(e[field], max) : undefined;
      if (size !== undefined)
        problems.push({
          path: indexed ? `${i}.${field}` : field,
          message: `is ${size} bytes once secret values are redacted, more than ${max}`,
        });
    }
  });
  if (problems.length > 0) throw new ValidationError(what, problems);
}

export function createProducer(options: ProducerOptions = {}) {
  const opts = parseOrThrow(optionsSchema, options, 'producer options');
  const connection =
    opts.connection ?? new Redis(opts.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const prefix = queuePrefixFor(opts.queuePrefix ?? 'bulwark', {
    mode: connection instanceof Cluster ? 'cluster' : 'single',
  });
  const clock = opts.clock ?? (() => new Date());
  // The definitions' options are every job's defaults (the helpers of lib/contracts/enqueue.ts pass them too).
  const auditQueue = new Queue<AuditWriteJob>(auditWriteJob.queue.name, {
    connection,
    prefix,
    defaultJobOptions: auditWriteJob.opts,
  });
  const alertQueue = new Queue<AlertJob>(alertJob.queue.name, {
    connection,
    prefix,
    defaultJobOptions: alertJob.opts,
  });
  for (const q of [auditQueue, alertQueue]) q.on('error', (err) => opts.onError?.(err));
  const fair =
    opts.fair === false
      ? undefined
      : createFairProducer({
          connection,
          prefix,
          auditQueue,
          alertQueue,
          ...(opts.onError ? { onError: opts.onError } : {}),
          ...(opts.enqueueTimeoutMs ? { deadlineBudgetMs: opts.enqueueTimeoutMs } : {}),
        });
  const bounded = createEnqueueBound(opts.enqueueTimeoutMs, opts.onError);
  // A connection we opened is ours to watch: without a listener ioredis reports its
  // errors as unhandled.
  if (!opts.connection) connection.on('error', (err: Error) => opts.onError?.(err));

  function complete(input: z.output<typeof auditEntryInputSchema>): AuditEntry {
    // Every field written out rather than `{ ...input, eventId, … }`: V8 built that
    // spread of a zod output about eight times slower (some 4 µs, the largest single
    // cost of an HTTP audit write). `satisfies` keeps the list complete: a field added
    // to the contract and missing here is a type error.
    const entry = {
      tenantId: input.tenantId,
      eventId: input.eventId ?? randomUUID(),
      occurredAt: input.occurredAt ?? clock().toISOString(),
      actorType: input.actorType,
      actorId: input.actorId,
      action: input.action,
      resourceType: input.resourceType,
      resourceId: input.resourceId,
      before: input.before ? redactSecrets(input.before) : input.before,
      after: input.after ? redactSecrets(input.after) : input.after,
      metadata: input.metadata ? redactSecrets(input.metadata) : input.metadata,
      reason: input.reason,
      confidence: input.confidence,
      requestId: input.requestId,
      ip: input.ip,
      userAgent: input.userAgent,
      severity: input.severity,
    } satisfies Record<keyof AuditEntry, unknown>;
    return entry;
  }

  /** Made on the first entry that raises an alert: most producers never need it. */
  let flows: FlowProducer | undefined;
  /** Set by close(): a flow producer made after it would stay open on the connection. */
  let closed = false;
  const closedError = () => new Error('the producer is closed: the entries were not enqueued');

  async function enqueueEntries(entries: AuditEntry[], startedAt = Date.now()): Promise<EnqueuedAudit> {
    // Of entries sharing an eventId the first is stored (the rest are duplicates): only
    // it may raise an alert, or a later namesake would alert about an entry never stored.
    const seen = new Set<string>();
    const alerts = entries.filter((e) => {
      const key = `${e.tenantId}\n${e.eventId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return raisesSecurityAlert(e);
    });
    if (fair) {
      if (closed) throw closedError();
      const alertJobs = alerts.map((e) => ({
        data: securityAlertFor(e, opts.runbookBaseUrl),
        jobId: stableJobId('security', e.tenantId, e.eventId),
      }));
      return { jobId: await fair.audit(entries, alertJobs, startedAt), eventIds: entries.map((e) => e.eventId) };
    }
    if (alerts.length === 0) {
      const job = await addJob(auditQueue as Queue, auditWriteJob, { v: 1, entries });
      return { jobId: String(job.id), eventIds: entries.map((e) => e.eventId) };
    }
    // The audit job and its alerts go to Redis in one MULTI (FlowProducer.addBulk, every
    // node a root): added one after the other, a producer that died or lost Redis
    // between the two left a stored security entry that never alerted. A retry of this
    // call re-adds neither twice (eventId dedupe in the database, a job id derived from
    // the eventId here). MULTI does not roll back a job Redis refuses inside it: the
    // call fails then, so the caller retries (strict-flows.ts).
    if (!flows) {
      if (closed) throw closedError();
      flows = createStrictFlowProducer({ connection, prefix });
      flows.on('error', (err) => opts.onError?.(err));
    }
    const [audit] = await flows.addBulk([
      flowJobOf(auditWriteJob, { v: 1, entries }),
      ...alerts.map((e) =>
        flowJobOf(alertJob, securityAlertFor(e, opts.runbookBaseUrl), {
          jobId: stableJobId('security', e.tenantId, e.eventId),
        }),
      ),
    ]);
    // addBulk answers nothing once the producer is closing: nothing was added.
    if (!audit) throw closedError();
    return { jobId: String(audit.job.id), eventIds: entries.map((e) => e.eventId) };
  }

  const coalescer = createWriteCoalescer((entries, startedAt) =>
    bounded(startedAt, enqueueEntries(entries, startedAt)),
  );

  return {
    audit: {
      /** Validate and enqueue one entry. Resolves once it is safely in Redis. */
      async write(entry: AuditEntryInput): Promise<{ jobId: string; eventId: string }> {
        const parsed = complete(parseOrThrow(auditEntryInputSchema, entry, 'audit entry'));
        assertStoredSizes([parsed], 'audit entry', false);
        if (opts.coalesceWrites === false) {
          const startedAt = Date.now();
          const { jobId, eventIds } = await bounded(startedAt, enqueueEntries([parsed], startedAt));
          return { jobId, eventId: eventIds[0]! };
        }
        const { jobId } = await coalescer.add(parsed);
        return { jobId, eventId: parsed.eventId };
      },
      /**
       * Validate every entry (all problems reported at once) and enqueue 1-1000 as one
       * job of at most AUDIT_MAX_JOB_BYTES (4 MiB) of JSON.
       */
      async writeMany(entries: AuditEntryInput[]): Promise<EnqueuedAudit> {
        if (!Array.isArray(entries) || entries.length === 0 || entries.length > AUDIT_MAX_ENTRIES_PER_JOB) {
          throw new ValidationError('audit entries', [
            { path: '', message: `must be an array of 1 to ${AUDIT_MAX_ENTRIES_PER_JOB} entries` },
          ]);
        }
        const parsed = parseEachOrThrow(auditEntryInputSchema, entries, 'audit entries').map(complete);
        assertStoredSizes(parsed, 'audit entries', true);
        const bytes = parsed.reduce((n, e) => n + jsonBytes(e), 0);
        if (bytes > AUDIT_MAX_JOB_BYTES) {
          throw new ValidationError('audit entries', [
            {
              path: '',
              message: `are ${bytes} bytes as JSON, more than the ${AUDIT_MAX_JOB_BYTES} one job may carry; split them over several writeMany calls`,
            },
          ]);
        }
        const startedAt = Date.now();
        return bounded(startedAt, enqueueEntries(parsed, startedAt));
      },
    },
    alert: {
      /** Validate and enqueue one alert (delivery is the alert worker's job). */
      async send(alert: AlertInput): Promise<{ jobId: string; alertId: string }> {
        const parsed = parseOrThrow(alertInputSchema, alert, 'alert');
        const alertId = parsed.id ?? randomUUID();
        // The job id follows the tenant and alert id: sending the same alert twice enqueues
        // it once, and another tenant's alert that happens to carry the same id is not
        // taken for it (the worker refuses a second tenant's use of an id, see processor.ts).
        const data: AlertJob = {
          v: 1,
          alert: { ...parsed, id: alertId, occurredAt: parsed.occurredAt ?? clock().toISOString() },
        };
        const jobId = `alert-${parsed.tenantId}-${alertId}`;
        const startedAt = Date.now();
        if (fair) await bounded(startedAt, fair.alert(data, jobId, startedAt));
        else await addJob(alertQueue as Queue, alertJob, data, { jobId });
        return { jobId, alertId };
      },
    },
    /** Tenant files in the store's key layout (producers/objects.ts, docs/storage.md). */
    objects: createObjects(opts.storage, clock),
    /** Close the queues, and the connection if the producer opened it. */
    async close(): Promise<void> {
      await coalescer.flush();
      closed = true;
      await fair?.settle();
      await Promise.all([auditQueue.close(), alertQueue.close(), flows?.close()]);
      if (!opts.connection) await connection.quit();
    },
  };
}

export type Producer = ReturnType<typeof createProducer>;
