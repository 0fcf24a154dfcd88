/**
 * The subject export (GDPR art. 15, issue 18 §1): everything a tenant holds about one
 * data subject, written as one bundle to the tenant's prefix in the object store
 * (`tenant/{id}/exports/{YYYY-MM-DD}/{exportId}.tgz`, export-bundle.ts says what is in
 * it; its metadata carries the subject's token so an erasure finds it) and answered with a presigned GET link that expires soon.
 *
 * Order of work, so that nothing half-written is ever visible: the store is probed
 * first (503 before any work when it is down); the bundle streams into a multipart
 * upload, its members first and the manifest last, and only `complete` makes it
 * visible (a failure aborts the upload); then one `privacy:subject-exported` audit
 * entry records the export by its key, counts, size and SHA-256, never the subject
 * (its request id leads back to the request); then the link is signed.
 */
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { assertTenant, withSnapshot } from '../backup/tenant-export.js';
import { actorFields, recordAuditInTx, type AuditActor } from '../audit/record.js';
import type { PrismaClient } from '../clients/prisma.js';
import { probeStorage, storeCall, type Storage } from '../clients/storage.js';
import { NotFoundError } from '../errors.js';
import { keyTenantId, objectKey } from '../storage/keys.js';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  MATCHING,
  ndjsonMembers,
  objectLine,
  objectPath,
  openObject,
  type BundleCounts,
  type BundleManifest,
} from './export-bundle.js';
import { countSubjectRows, subjectRows } from './export-rows.js';
import { tarStream, type TarFile, type TarMember } from './export-tar.js';
import { openMultipart } from './export-upload.js';
import { personalFieldsFor } from './fields.js';
import { checkSubject } from './subject-match.js';
import { tenantSettingsSchema } from '../tenants/settings.js';
import { exportTokenHeaders, listSubjectObjects, type SubjectObject } from './subject-objects.js';

export const EXPORT_CONTENT_TYPE = 'application/gzip';

export interface SubjectExportContext {
  prisma: PrismaClient;
  storage: Storage;
  /** The database the rows are read from, on a connection of the export's own (one snapshot). */
  databaseUrl: string;
  /** How long the presigned link stays valid (PRIVACY_EXPORT_LINK_SECONDS; default 900). */
  linkSeconds?: number;
  /** Default: the system clock. */
  clock?: () => Date;
}

export interface ExportProgress {
  phase: 'audit entries' | 'alerts' | 'objects' | 'finishing';
  /** Records (entries, alerts, objects) written so far, of `total`. */
  done: number;
  total: number;
}

export interface SubjectExportRequest {
  tenantId: string;
  subject: string;
  /** Who asked (the CLI, or the API key with its request): the audit entry's actor. */
  actor: AuditActor;
  /** Told as records are written. Given, the rows are counted first (one more scan) for `total`. */
  onProgress?: (p: ExportProgress) => void;
}

export interface SubjectExport {
  exportId: string;
  key: string;
  url: string;
  expiresAt: Date;
  /** The bundle's size and SHA-256 (of the .tgz as stored). */
  bytes: number;
  sha256: string;
  counts: BundleCounts;
  empty: boolean;
}

/**
 * Export one subject of one tenant.
 * @throws ValidationError naming `subject` or `tenantId`; NotFoundError for an unknown
 *   tenant; StorageUnavailableError (503) when the store fails, the upload then aborted
 */
export async function exportSubject(ctx: SubjectExportContext, r: SubjectExportRequest): Promise<SubjectExport> {
  const subject = checkSubject(r.subject);
  const tenantId = keyTenantId(r.tenantId);
  const now = (ctx.clock ?? (() => new Date()))();
  const tenant = await ctx.prisma.tenant.findUnique({ where: { id: tenantId }, include: { settings: true } });
  if (!tenant) throw new NotFoundError(`no tenant with id ${tenantId}`);
  const which = {
    tenantId,
    subject,
    fields: personalFieldsFor(tenantSettingsSchema.safeParse(tenant.settings?.settings ?? {}).data),
  };
  await probeStorage(ctx.storage);
  const objects: SubjectObject[] = [];
  for await (const o of listSubjectObjects(ctx.storage, tenantId, subject)) objects.push(o);

  const exportId = randomUUID();
  const key = objectKey({ tenantId, class: 'exports', at: now, id: exportId, contentType: EXPORT_CONTENT_TYPE });
  // The subject's token goes in the bundle's metadata, not its key (recorded in the audit
  // entry): erasure finds the subject's bundles by it (listSubjectExports).
  const sink = await openMultipart(ctx.storage, key, {
    contentType: EXPORT_CONTENT_TYPE,
    headers: exportTokenHeaders(tenantId, subject),
  });
  const counts: BundleCounts = { auditEntries: 0, alerts: 0, objects: 0, objectBytes: 0 };
  let stored: { bytes: number; sha256: string };
  try {
    await withSnapshot(ctx.databaseUrl, async (client) => {
      await client.query("SET LOCAL TIME ZONE 'UTC'");
      await assertTenant(client, tenantId);
      // Counting is a second scan of the tenant's entries: only for a progress bar.
      const expected = r.onProgress ? await countSubjectRows(client, which) : { audit: 0, alerts: 0 };
      const total = expected.audit + expected.alerts + objects.length;
      const files: TarFile[] = [];
      const records = new Map<string, number>();
      const tell = (phase: ExportProgress['phase']) =>
        r.onProgress?.({ phase, done: counts.auditEntries + counts.alerts + counts.objects, total });

      async function* members(): AsyncGenerator<TarMember> {
        tell('audit entries');
        const audit = subjectRows(client, 'audit', which, (n) => {
          counts.auditEntries += n;
          tell('audit entries');
        });
        yield* ndjsonMembers('audit-entries', audit, records);
        const alerts = subjectRows(client, 'alerts', which, (n) => {
          counts.alerts += n;
          tell('alerts');
        });
        yield* ndjsonMembers('alerts', alerts, records);
        let index = '';
        for (const o of objects) {
          const body = await openObject(ctx.storage, o);
          if (!body) continue; // deleted since it was listed: not the subject's any more
          yield { path: objectPath(o), size: o.size, body };
          // The tar writer has taken the whole member (and recorded it) before asking for the next.
          index += objectLine(o, files.at(-1)!);
          counts.objects++;
          counts.objectBytes += o.size;
          tell('objects');
        }
        yield { path: 'objects.ndjson', size: Buffer.byteLength(index), body: Buffer.from(index) };
        records.set('objects.ndjson', counts.objects);
        tell('finishing');
        const manifest: BundleManifest = {
          format: BUNDLE_FORMAT,
          version: BUNDLE_VERSION,
          exportId,
          tenantId,
          subject,
          createdAt: now.toISOString(),
          empty: counts.auditEntries + counts.alerts + counts.objects === 0,
          counts,
          matching: MATCHING,
          files: files.map((f) => (records.has(f.path) ? { ...f, records: records.get(f.path)! } : f)),
        };
        const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
        yield { path: 'manifest.json', size: text.length, body: text };
      }

      await pipeline(
        tarStream(members(), (f) => files.push(f), now),
        createGzip(),
        async (gz: AsyncIterable<Buffer>) => {
          for await (const chunk of gz) await sink.write(chunk);
        },
      );
    });
    stored = await sink.complete();
  } catch (err) {
    await sink.abort();
    throw err;
  }

  const empty = counts.auditEntries + counts.alerts + counts.objects === 0;
  const seconds = ctx.linkSeconds ?? 900;
  const expiresAt = new Date(now.getTime() + seconds * 1000);
  try {
    await ctx.prisma.$transaction((tx) =>
      recordAuditInTx(tx, {
        tenantId,
        ...actorFields(r.actor),
        action: 'privacy:subject-exported',
        resourceType: 'subject_export',
        resourceId: exportId,
        // The export by what identifies the bundle; never the subject or anything of theirs.
        metadata: {
          key,
          bytes: stored.bytes,
          sha256: stored.sha256,
          ...counts,
          empty,
          linkExpiresAt: expiresAt.toISOString(),
        },
      }),
    );
  } catch (err) {
    // Not audited, so not handed out: the bundle goes again (best effort).
    await storeCall(ctx.storage, `remove ${key}`, () => ctx.storage.client.removeObject(ctx.storage.bucket, key)).catch(
      () => undefined,
    );
    throw err;
  }
  const url = await storeCall(ctx.storage, `sign ${key}`, () =>
    ctx.storage.client.presignedGetObject(ctx.storage.bucket, key, seconds, {}, now),
  );
  return { exportId, key, url, expiresAt, bytes: stored.bytes, sha256: stored.sha256, counts: { ...counts }, empty };
}
