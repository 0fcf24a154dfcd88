/**
 * Subject erasure (GDPR art. 17): remove one subject's personal data from a tenant's
 * audit log, alert ledger (with its deliveries) and objects, keep every chain
 * verifiable, and record one `privacy:subject-erased` entry (counts and reason, no
 * personal data). docs/DATA_MANAGEMENT.md § Subject erasure describes it for people.
 *
 * Order, so that a run killed anywhere is completed by the next one (same tenant and
 * subject): objects first (the subject's own, found by their token as the export finds
 * them, those the entries name by key, and the subject's earlier export bundles), then
 * alert rows, then audit entries in batches, then the closing entry. Each step
 * finds only what is left. The run's row in `subject_erasures` (found again by an HMAC
 * of the subject, never the subject) accumulates the counts across runs.
 */
import { createHmac, createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { LegalHold } from '../../generated/prisma/client.js';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { storeCall, StorageUnavailableError, type Storage } from '../clients/storage.js';
import type { CheckpointSigner } from '../checkpoints/keys.js';
import { TENANT_ID, TEXT } from '../contracts/common.js';
import { ConflictError, NotFoundError, ValidationError, problemsFromZod } from '../errors.js';
import { activeHolds } from '../retention/holds.js';
import { tenantObjectKey } from '../storage/keys.js';
import { tenantSettingsSchema } from '../tenants/settings.js';
import { eraseEntries } from './erase-audit.js';
import { personalFieldsFor } from './fields.js';
import { ALERT_MATCH_SQL, findAlerts, findEntries, type FoundEntry } from './find.js';
import { heldMessage, holdsCovering, type HeldBy } from './holds.js';
import { listSubjectExports, listSubjectObjects } from './subject-objects.js';

export const eraseInputSchema = z
  .object({
    tenantId: TENANT_ID,
    subject: TEXT(255).pipe(z.string().trim().min(1, 'must name the subject (an id or address), not be empty')),
    reason: TEXT(500).pipe(z.string().trim().min(3, 'must say why, in at least 3 characters')),
    dryRun: z.boolean().default(false),
  })
  .strict();

export type EraseInput = z.input<typeof eraseInputSchema>;

/** What an erasure found (dry run) or did. */
export interface EraseResult {
  /** The run's id (subject_erasures.id); absent for a dry run. */
  erasureId?: string;
  dryRun: boolean;
  /** Audit entries erased (or found, dry run), by format. */
  entries: { format1: number; format2: number };
  alerts: number;
  deliveries: number;
  /** The subject's objects: those with its token in their id, and those its entries name by key. */
  objects: number;
  /** The subject's earlier export bundles (class `exports`) still in the store. */
  exports: number;
  /** Dry run only: the keys of those objects and bundles, in key order (keys hold no personal data). */
  objectKeys?: string[];
  /** The closing audit entry's eventId; absent for a dry run. */
  eventId?: string;
}

/** Everything erasure works with. */
export interface EraseContext {
  prisma: PrismaClient;
  /** The object store of tenant data (S3_BUCKET). */
  storage: Storage;
  /** ERASURE_SIGNING_KEY's signer (requireErasureSigner). */
  signer: CheckpointSigner;
  /** Told the phase and how far it got (for a progress bar). Default: nothing. */
  onProgress?: (phase: 'objects' | 'alerts' | 'entries', done: number, total: number) => void;
}

/** Who erases, recorded in the closing entry. */
export type Eraser = AuditActor;

/** The key a subject's run is found by: HMAC-SHA256 under a key derived from the signing key. */
function subjectKey(signer: CheckpointSigner, tenantId: string, subject: string): string {
  const key = createHash('sha256').update('bulwark-subject-key\n').update(signer.publicKey.raw).digest();
  return createHmac('sha256', key).update(`${tenantId}\n${subject}`).digest('hex');
}

/** Object keys of this tenant named by the entries' personal data. */
function namedKeys(tenantId: string, entries: readonly FoundEntry[]): string[] {
  const keys = new Set<string>();
  for (const e of entries)
    for (const s of e.strings) {
      if (!s.startsWith('tenant/')) continue;
      try {
        tenantObjectKey(tenantId, s);
        keys.add(s);
      } catch {
        // Not an object key of this tenant: nothing to delete.
      }
    }
  return [...keys].sort();
}

/**
 * Delete keys: one multi-object delete, then one request per key it did not delete (a
 * key refused in its answer, or all of them when it failed as a whole: s3rver answers
 * 500 to one that empties a folder). Deleting a key already gone succeeds, so a resumed
 * run may send keys again.
 * @throws StorageUnavailableError naming S3_ENDPOINT when the store refuses a key
 */
async function removeKeys(storage: Storage, keys: readonly string[]): Promise<void> {
  let left: string[];
  try {
    const errors = await storeCall(
      storage,
      `delete ${keys.length} object(s)`,
      () => storage.client.removeObjects(storage.bucket, [...keys]),
      60_000,
    );
    // minio hands back the Error elements themselves, whatever its type says.
    left = (errors as Array<{ Key?: string; Error?: { Key?: string } } | null | undefined>)
      .map((e) => e?.Key ?? e?.Error?.Key)
      .filter((k): k is string => typeof k === 'string');
  } catch (err) {
    if (!(err instanceof StorageUnavailableError)) throw err;
    left = [...keys];
  }
  for (const key of left)
    await storeCall(storage, `delete ${key}`, () => storage.client.removeObject(storage.bucket, key));
}

/**
 * Erase the subject's personal data, or (dryRun) say what would go.
 * @throws ValidationError on bad input, NotFoundError for an unknown tenant,
 *   ConflictError naming each legal hold that covers any of the subject's data.
 */
export async function eraseSubject(ctx: EraseContext, input: EraseInput, actor: Eraser): Promise<EraseResult> {
  const parsed = eraseInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError('subject erasure', problemsFromZod(parsed.error.issues));
  const { tenantId, subject, reason, dryRun } = parsed.data;
  const { prisma } = ctx;
  const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, include: { settings: true } });
  if (!tenant) throw new NotFoundError(`no tenant with id ${tenantId} (tenantId)`);
  const fields = personalFieldsFor(tenantSettingsSchema.safeParse(tenant.settings?.settings ?? {}).data);
  const entries = await findEntries(prisma, tenantId, subject, fields);
  const alerts = await findAlerts(prisma, tenantId, subject);
  const objectSet = new Set(namedKeys(tenantId, entries));
  for await (const o of listSubjectObjects(ctx.storage, tenantId, subject)) objectSet.add(o.key);
  const bundles: string[] = [];
  for await (const o of listSubjectExports(ctx.storage, tenantId, subject)) bundles.push(o.key);
  const objectKeys = [...objectSet].sort();
  const keys = [...objectKeys, ...bundles];
  const holds: LegalHold[] = await activeHolds(prisma, tenantId);
  const held: HeldBy[] = holdsCovering(holds, tenantId, { entries, alerts, objects: keys });
  if (held.length > 0) throw new ConflictError(heldMessage(tenantId, held));
  const found = {
    format1: entries.filter((e) => e.format === 1).length,
    format2: entries.filter((e) => e.format === 2).length,
  };
  if (dryRun)
    return {
      dryRun,
      entries: found,
      alerts: alerts.length,
      deliveries: 0,
      objects: objectKeys.length,
      exports: bundles.length,
      objectKeys: [...keys].sort(),
    };

  const key = subjectKey(ctx.signer, tenantId, subject);
  const running = await prisma.subjectErasure.findFirst({ where: { tenantId, subjectKey: key, status: 'running' } });
  const run =
    running ??
    (await prisma.subjectErasure.create({
      data: {
        id: randomUUID(),
        tenantId,
        subjectKey: key,
        reason,
        status: 'running',
        requestedBy: `${actor.type}:${actor.id}`,
      },
    }));
  const counts = {
    format1: 0,
    format2: 0,
    alerts: 0,
    deliveries: 0,
    objects: 0,
    exports: 0,
    ...(run.counts as object),
  };
  const save = (tx: Pick<PrismaClient, 'subjectErasure'>) =>
    tx.subjectErasure.update({ where: { id: run.id }, data: { counts } });

  ctx.onProgress?.('objects', 0, keys.length);
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    await removeKeys(ctx.storage, batch);
    const inBatch = new Set(batch);
    const nBundles = bundles.filter((k) => inBatch.has(k)).length;
    counts.objects += batch.length - nBundles;
    counts.exports += nBundles;
    await save(prisma);
    ctx.onProgress?.('objects', i + batch.length, keys.length);
  }

  ctx.onProgress?.('alerts', 0, alerts.length);
  await prisma.$transaction(async (tx) => {
    const ids = alerts.map((a) => a.id);
    const d = await tx.$executeRawUnsafe(
      `UPDATE alert_deliveries SET last_error = NULL WHERE alert_id = ANY($1::uuid[]) AND last_error IS NOT NULL`,
      ids,
    );
    const a = await tx.$executeRawUnsafe(
      `UPDATE alert_ledger l SET user_id = NULL, title = '[erased]', body = NULL, labels = NULL, last_error = NULL,
              group_key = 'erased:' || l.id::text, updated_at = now()
        WHERE ${ALERT_MATCH_SQL}`,
      tenantId,
      subject,
    );
    counts.alerts += a;
    counts.deliveries += d;
    await save(tx);
  });
  ctx.onProgress?.('alerts', alerts.length, alerts.length);

  const byFormat = (n: number, f: 1 | 2) => (f === 1 ? (counts.format1 += n) : (counts.format2 += n));
  let done = 0;
  ctx.onProgress?.('entries', 0, entries.length);
  for (const f of [1, 2] as const) {
    await eraseEntries(
      {
        prisma,
        signer: ctx.signer,
        tenantId,
        erasureId: run.id,
        fields,
        onBatch: async (tx, n) => {
          byFormat(n, f);
          done += n;
          await save(tx);
          ctx.onProgress?.('entries', done, entries.length);
        },
      },
      entries.filter((e) => e.format === f),
    );
  }

  const eventId = await prisma.$transaction(async (tx) => {
    await tx.subjectErasure.update({
      where: { id: run.id },
      data: { counts, status: 'done', finishedAt: new Date() },
    });
    return recordAuditInTx(tx, {
      tenantId,
      ...actorFields(actor),
      action: 'privacy:subject-erased',
      resourceType: 'subject_erasure',
      resourceId: run.id,
      metadata: { ...counts, resumed: running !== null },
      reason,
    });
  });
  return {
    erasureId: run.id,
    dryRun: false,
    entries: { format1: counts.format1, format2: counts.format2 },
    alerts: counts.alerts,
    deliveries: counts.deliveries,
    objects: counts.objects,
    exports: counts.exports,
    eventId,
  };
}
