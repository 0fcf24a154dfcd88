/**
 * Restoring the objects of an objects or tenant backup: into the tenant bucket at their
 * own keys (the default), or into another bucket and/or under a prefix
 * (`--objects-into BUCKET[/PREFIX]`). Each object is copied server-side from the backup
 * and read back: its size and SHA-256 must equal the signed index, or the restore fails
 * naming it. Nothing is deleted: objects at the target that the backup does not hold
 * stay. An object already there with the same content is left alone; one with other
 * content is a conflict: the restore refuses before writing anything unless `force`,
 * and over the tenant bucket's own keys it first takes an objects backup as the
 * rollback point (as a database restore does). With BULWARK_ENV=live, restoring over
 * the tenant bucket needs the bucket's name typed out as `confirm`.
 */
import { ConflictError, ValidationError, type FieldProblem } from '../errors.js';
import { backupKeys } from './keys.js';
import type { BackupContext, OnProgress } from './context.js';
import { guard } from './store.js';
import { mapLimit } from './iterate.js';
import type { Manifest } from './manifest.js';
import { copyObject, hashObject } from './object-copy.js';
import { COPIES_IN_FLIGHT } from './objects.js';
import { readIndex } from './objects-index.js';

export interface ObjectsRestoreOptions {
  /** `BUCKET` or `BUCKET/PREFIX`; default the tenant bucket (S3_BUCKET), keys as they were. */
  objectsInto?: string;
  force?: boolean;
  confirm?: string;
  /** Takes the rollback objects backup (restore.ts passes createBackup; kept apart to avoid an import cycle). */
  rollback: (reason: string) => Promise<string>;
  onProgress?: OnProgress;
}

export interface ObjectsRestoreResult {
  target: string;
  rollbackBackupId?: string;
  checks: string[];
  failed: string[];
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `BUCKET[/PREFIX]` → bucket and prefix (ending in `/` when not empty). */
export function parseObjectsTarget(value: string): { bucket: string; prefix: string } {
  const slash = value.indexOf('/');
  const bucket = slash < 0 ? value : value.slice(0, slash);
  let prefix = slash < 0 ? '' : value.slice(slash + 1);
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const problems: FieldProblem[] = [];
  if (!BUCKET.test(bucket))
    problems.push({
      path: 'objects-into',
      message: 'must start with a bucket name (3-63 lower-case letters, digits, . or -)',
    });
  if (prefix.split('/').includes('..') || CONTROL.test(prefix) || prefix.startsWith('/') || prefix.includes('//'))
    problems.push({
      path: 'objects-into',
      message: 'the prefix must not hold "..", "//", control characters or a leading "/"',
    });
  if (problems.length) throw new ValidationError('restore target', problems);
  return { bucket, prefix };
}

export async function restoreObjects(
  ctx: BackupContext,
  manifest: Manifest,
  o: ObjectsRestoreOptions,
): Promise<ObjectsRestoreResult> {
  const store = ctx.storage;
  const m = manifest.objects;
  if (!m) throw new ValidationError('restore', [{ path: 'id', message: `backup ${manifest.id} holds no objects` }]);
  const { bucket, prefix } = parseObjectsTarget(o.objectsInto ?? store.bucket);
  const target = `${bucket}/${prefix}`;
  const inPlace = bucket === store.bucket && prefix === '';
  if (inPlace && ctx.config.env === 'live' && o.confirm !== bucket)
    throw new ValidationError('restore', [
      { path: 'confirm', message: `BULWARK_ENV is live: type the tenant bucket's name, --confirm ${bucket}` },
    ]);
  const { identities } = await backupKeys(ctx.config);
  if (!(await guard(bucket, 'check bucket', () => store.client.bucketExists(bucket))))
    await guard(bucket, 'create bucket', () => store.client.makeBucket(bucket, ctx.config.storage.region));

  // Pass 1: find conflicts before writing anything.
  let conflicts = 0;
  const examples: string[] = [];
  for await (const entries of readIndex(ctx, manifest, identities)) {
    await mapLimit(entries, COPIES_IN_FLIGHT, async (e) => {
      const there = await hashObject(store, bucket, prefix + e.key);
      if (there && there.sha256 !== e.sha256 && ++conflicts <= 5) examples.push(prefix + e.key);
    });
  }
  let rollbackBackupId: string | undefined;
  if (conflicts > 0) {
    if (!o.force)
      throw new ConflictError(
        `${conflicts} object(s) at ${target} differ from the backup (${examples.join(', ')}${conflicts > 5 ? ', …' : ''}): pass --force to overwrite them${inPlace ? '; an objects backup is taken first as the rollback point' : ''}, or restore elsewhere with --objects-into BUCKET/PREFIX`,
      );
    if (inPlace) {
      rollbackBackupId = await o.rollback(`rollback point taken before restoring the objects of ${manifest.id}`);
      ctx.logger.warn({ backup_id: manifest.id, rollback_backup_id: rollbackBackupId }, 'objects rollback point taken');
    }
  }

  // Pass 2: copy what is missing or different, and check each copy.
  const failed: string[] = [];
  let copied = 0;
  let same = 0;
  let bytes = 0;
  for await (const entries of readIndex(ctx, manifest, identities)) {
    await mapLimit(entries, COPIES_IN_FLIGHT, async (e) => {
      const there = await hashObject(store, bucket, prefix + e.key);
      if (there?.sha256 === e.sha256 && there.size === e.size) return void same++;
      const got = await copyObject(
        store,
        { bucket: store.backupBucket, key: m.prefix + e.key },
        { bucket, key: prefix + e.key },
      );
      if (!got) failed.push(`objects: ${e.key} is missing from the backup`);
      else if (got.size !== e.size || got.sha256 !== e.sha256)
        failed.push(`objects: ${prefix + e.key} does not match the backup's SHA-256 after the copy`);
      else copied++;
      bytes += e.size;
      o.onProgress?.({ phase: 'restoring objects', done: bytes, total: m.bytes });
    });
  }
  const checks = failed.length
    ? []
    : [`objects: ${copied} restored into ${target}, ${same} already identical, each matching its SHA-256`];
  return { target, rollbackBackupId, checks, failed };
}
