/**
 * alert contract: queue name, job payload schema and policy. Delivery (policy,
 * ledger, channels) is built by the alerts issue; the audit path already enqueues
 * security alerts with this contract.
 */
import { z } from 'zod';
import { INSTANT, isStorableText, JSON_OBJECT, TENANT_ID, TEXT, type QueuePolicy } from './common.js';
import { defineJob, type QueueDefinition } from './job.js';

export const ALERT_QUEUE = 'alert';
export const ALERT_JOB = 'alert';
export const ALERT_SEVERITIES = ['info', 'warning', 'high', 'critical'] as const;

/** Most labels one alert carries. */
export const ALERT_LABELS_MAX = 64;

/**
 * Label names: at most 64 characters, and text Postgres can store. A NUL or a lone
 * surrogate in a name was accepted (202) and then failed the alert job at every
 * attempt (the ledger's JSONB refuses it): the alert was lost after the answer. Named
 * here in words; zod's own record-key issue said only "Invalid key in record".
 */
function checkLabelNames(labels: Record<string, string>, ctx: z.RefinementCtx): void {
  const names = Object.keys(labels);
  // Labels travel with every message and ledger row: a bound keeps one alert from
  // carrying megabytes (64 names of 64 and values of 256 characters: about 20 KB).
  if (names.length > ALERT_LABELS_MAX)
    ctx.addIssue({ code: 'custom', path: [], message: `has ${names.length} labels, more than ${ALERT_LABELS_MAX}` });
  for (const name of names) {
    if (!isStorableText(name))
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'has a label name with a NUL character or an unpaired surrogate',
      });
    else if (name.length > 64)
      ctx.addIssue({ code: 'custom', path: [name], message: 'is a label name longer than 64 characters' });
  }
}

const TYPE = /^[a-z][a-z0-9_.:-]{0,99}$/;

/**
 * zod's record skips a key named "__proto__" (setting it would change the result's
 * prototype), so such a label was accepted and then silently missing from the ledger and
 * every message. Refused instead, checked on the input before the record is parsed.
 */
const LABELS = z
  .custom<Record<string, string>>(() => true)
  .superRefine((v, ctx) => {
    if (v !== null && typeof v === 'object' && Object.hasOwn(v, '__proto__')) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'has a label named "__proto__", which cannot be kept; rename it',
      });
    }
  })
  .pipe(z.record(z.string(), TEXT(256)).superRefine(checkLabelNames));

/**
 * Most characters of a runbook URL: the ledger's runbook_url column is varchar(2048). A
 * longer one, or one holding a NUL (the URL parser ignores C0 controls at the ends, so
 * "https://x/\u0000" is a valid URL), was accepted and then refused by Postgres at every
 * attempt of the alert job: the alert was lost with no ledger row.
 */
export const RUNBOOK_URL_MAX = 2048;

/** An alert's runbookUrl; lib/runbooks.ts checks a base URL's links against it. */
export const RUNBOOK_URL = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(RUNBOOK_URL_MAX, `must be at most ${RUNBOOK_URL_MAX} characters`)
  .refine(isStorableText, 'must not contain NUL characters or unpaired surrogates');

/**
 * Optional text that must not be empty when given: the decision (lib/alerts/decide.ts)
 * takes groupKey and userId of 1-256 characters, and an empty one failed the alert job
 * at every attempt, leaving its row `received` for ever.
 */
const NON_EMPTY = (max: number, absent: string) =>
  TEXT(max).pipe(z.string().min(1, `must not be empty; leave it out ${absent}`));

const alertShape = {
  /**
   * The alert's id: the ledger key, so a retried job never makes a second decision. In
   * lower case, as Postgres gives uuids back: an upper-case id was decided and sent, but
   * the ledger's batched statements, which match rows by that text, reported it
   * unchanged, so no decision or delivery of it was logged or counted.
   */
  id: z.uuid({ error: 'must be a UUID' }).transform((id) => id.toLowerCase()),
  tenantId: TENANT_ID,
  type: z.string().regex(TYPE, 'must be 1-100 lower-case letters, digits, ".", "_", ":" or "-"'),
  severity: z.enum(ALERT_SEVERITIES, { error: `must be one of ${ALERT_SEVERITIES.join(', ')}` }),
  title: TEXT(200).pipe(z.string().min(1, 'must not be empty')),
  body: TEXT(4000).optional(),
  labels: LABELS.optional(),
  groupKey: NON_EMPTY(200, 'to group by type').optional(),
  userId: NON_EMPTY(255, 'when no user caused the alert').optional(),
  runbookUrl: RUNBOOK_URL.optional(),
  occurredAt: INSTANT,
  /** Where the alert came from, e.g. the audit entry that raised it. */
  source: z
    .object({ auditEventId: z.string().max(128).optional() })
    .strict()
    .optional(),
  details: JSON_OBJECT(16384).optional(),
  /**
   * The request that caused the alert, so it can be traced from the job back to that
   * request's log lines and audit entries: POST /v1/alerts sets its X-Request-Id, and a
   * security alert takes its audit entry's. As long as the audit entry's field.
   */
  requestId: TEXT(128).optional(),
};

/** The UUID version of the ids of alerts Bulwark raises (from audit entries); callers' alerts may not use it. */
export const RESERVED_ALERT_ID_VERSION = '8';

export const alertInputSchema = z
  .object({
    ...alertShape,
    // A security alert's id is derived from its tenant and audit eventId, both known to
    // the tenant: a caller sending an alert under that id first would make the real one
    // a repeat of it. Those ids are version 8, and callers' may not be.
    id: alertShape.id
      .refine((id) => id[14] !== RESERVED_ALERT_ID_VERSION, {
        error: `UUID version ${RESERVED_ALERT_ID_VERSION} is reserved for alerts Bulwark raises; use a random (version 4) UUID, or none`,
      })
      .optional(),
    occurredAt: INSTANT.optional(),
    // The duplicate check runs on source.auditEventId before every other rule: an alert
    // sent by a caller that could set it could silence the security alert of an audit
    // entry it names (audit eventIds are callers' own, often guessable). Only the audit
    // path raises alerts with a source; it builds their jobs itself.
    source: z
      .never({
        error: 'is set by Bulwark for alerts raised by audit entries; an alert sent by a caller cannot carry it',
      })
      .optional(),
  })
  .strict();
export const alertJobSchema = z.object({ v: z.literal(1), alert: z.object(alertShape).strict() }).strict();

export type AlertInput = z.input<typeof alertInputSchema>;
export type Alert = z.output<typeof alertJobSchema>['alert'];
export type AlertJob = z.output<typeof alertJobSchema>;

export const alertPolicy: QueuePolicy = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  concurrency: 20,
  limiter: { max: 1000, duration: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

/** Dispatched fairly by jobs: FAIR_ALERT_WINDOW alerts released and not decided, across every process. */
export const alertQueue: QueueDefinition = {
  name: ALERT_QUEUE,
  policy: alertPolicy,
  fair: { setting: 'alert', unit: 'jobs', quantum: 1, defaultWindow: 100, window: (config) => config.fair.alertWindow },
};

/** One alert to decide (and, when delivered at once, send inline). */
export const alertJob = defineJob({ queue: alertQueue, name: ALERT_JOB, schema: alertJobSchema });
