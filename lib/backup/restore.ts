/**
 * restoreBackup: a backup restored and checked, by its kind. An objects backup goes to
 * the store (objects-restore.ts), a tenant backup into a scratch database and, when
 * asked, its objects too (tenant-restore.ts). A database backup goes into a database,
 * then is checked (restore-checks.ts).
 * Into an empty or absent database by default. Over a non-empty one only with `force`,
 * and only after a backup of it has been taken as the rollback point (its id is
 * returned, logged and recorded in its manifest's `reason`). With BULWARK_ENV=live the
 * target's name must also be typed out as `confirm`. pg_restore runs in one
 * transaction with --exit-on-error, and every part is checked before pg_restore sees
 * it: a bad part leaves the target as empty as it was before.
 */
import { ConflictError, ValidationError } from '../errors.js';
import type { Manifest } from './manifest.js';
import { restoreObjects } from './objects-restore.js';
import { restoreTenantRows } from './tenant-restore.js';
import type { BackupContext, OnProgress } from './context.js';
import { createBackup } from './create.js';
import { backupKeys } from './keys.js';
import { loadManifest } from './list.js';
import { readStream } from './parts.js';
import { runTool } from './pg-tools.js';
import { checkRestored } from './restore-checks.js';
import { createDatabase, dropDatabase, recreateDatabase, resolveTarget, targetState } from './target.js';

export interface RestoreOptions {
  /** Database and tenant backups: a postgres URL or a database name on the configured server. */
  into?: string;
  /** Objects (and tenant) backups: `BUCKET[/PREFIX]` to restore objects into (objects: default S3_BUCKET). */
  objectsInto?: string;
  /** The tenant a tenant backup must be of (a check that the right backup is being restored). */
  tenant?: string;
  /** Allow replacing a non-empty database (after a rollback backup of it). */
  force?: boolean;
  /** The target database's (or, for objects over S3_BUCKET, the bucket's) name, typed out: required when BULWARK_ENV=live. */
  confirm?: string;
  onProgress?: OnProgress;
}

export interface RestoreResult {
  backupId: string;
  target: string;
  rollbackBackupId?: string;
  checks: string[];
  pendingMigrations: string[];
  seconds: number;
}

export class RestoreCheckError extends Error {
  constructor(
    readonly backupId: string,
    target: string,
    readonly failed: string[],
  ) {
    super(
      `restore of ${backupId} into ${target} failed its checks (the database is left as restored, for inspection):\n  - ${failed.join('\n  - ')}`,
    );
    this.name = 'RestoreCheckError';
  }
}

const invalid = (path: string, message: string) => new ValidationError('restore', [{ path, message }]);

export async function restoreBackup(ctx: BackupContext, backupId: string, o: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  if (o.into === undefined) {
    const manifest = await loadManifest(ctx, backupId);
    if (manifest.kind !== 'objects') throw invalid('into', `a ${manifest.kind} backup needs --into DB|URL`);
    return finish(ctx, manifest, started, await restoreObjectsOf(ctx, manifest, o));
  }
  const target = resolveTarget(ctx.config, o.into);
  // Before anything else, so a live restore without it touches nothing.
  if (ctx.config.env === 'live' && o.confirm !== target.name) {
    throw new ValidationError('restore', [
      { path: 'confirm', message: `BULWARK_ENV is live: type the target database's name, --confirm ${target.name}` },
    ]);
  }
  const manifest = await loadManifest(ctx, backupId);
  if (manifest.kind === 'objects')
    throw invalid('into', 'an objects backup restores into the store: --objects-into BUCKET[/PREFIX], not --into');
  if (o.tenant !== undefined && (manifest.kind !== 'tenant' || manifest.tenantId !== o.tenant.toLowerCase()))
    throw invalid(
      'tenant',
      `backup ${backupId} is not a tenant backup of ${o.tenant} (take one with \`bulwark backup create --tenant ID\`)`,
    );
  if (manifest.kind === 'tenant') {
    const rows = await restoreTenantRows(ctx, manifest, { into: o.into, onProgress: o.onProgress });
    const objects = o.objectsInto === undefined ? undefined : await restoreObjectsOf(ctx, manifest, o);
    const note = objects
      ? []
      : [`objects: ${manifest.objects?.count ?? 0} in the backup, not restored (--objects-into BUCKET/PREFIX)`];
    return finish(ctx, manifest, started, {
      target: objects ? `${rows.target} and ${objects.target}` : rows.target,
      rollbackBackupId: objects?.rollbackBackupId,
      checks: [...rows.checks, ...(objects?.checks ?? note)],
      failed: [...rows.failed, ...(objects?.failed ?? [])],
      pendingMigrations: rows.pendingMigrations,
    });
  }
  if (o.objectsInto !== undefined) throw invalid('objects-into', 'a database backup holds no objects');
  const { identities } = await backupKeys(ctx.config);
  const relations = await targetState(target.url);
  let rollbackBackupId: string | undefined;
  if (relations === undefined) {
    await createDatabase(target.url);
  } else if (relations > 0) {
    if (!o.force)
      throw new ConflictError(
        `database ${target.name} is not empty (${relations} tables and other relations): pass --force to replace it; a backup of it is taken first as the rollback point`,
      );
    const rollback = await createBackup(ctx, {
      kind: 'database',
      databaseUrl: target.url,
      reason: `rollback point taken before restoring ${backupId} into ${target.name}`,
      onProgress: o.onProgress && ((e) => o.onProgress!({ ...e, phase: 'rollback backup' })),
    });
    rollbackBackupId = rollback.id;
    ctx.logger.warn(
      { backup_id: backupId, rollback_backup_id: rollbackBackupId, target: target.name },
      'rollback point taken; replacing the target database',
    );
    await recreateDatabase(target.url);
  }
  const restore = runTool(
    'pg_restore',
    ['--single-transaction', '--exit-on-error', `--dbname=${target.name}`],
    target.url,
    ['pipe', 'ignore', 'pipe'],
  );
  try {
    for await (const chunk of readStream(
      ctx.storage,
      manifest.parts.filter((p) => p.stream === 'database'),
      identities,
      o.onProgress,
    )) {
      if (!restore.child.stdin!.write(chunk))
        await Promise.race([new Promise((r) => restore.child.stdin!.once('drain', r)), restore.done]);
    }
    restore.child.stdin!.end();
    await restore.done;
  } catch (err) {
    restore.child.kill('SIGKILL');
    // Nothing was committed (one transaction); a database we created is removed again.
    if (relations === undefined) await dropDatabase(target.url).catch(() => undefined);
    throw err;
  }
  o.onProgress?.({ phase: 'checking', done: 0 });
  const report = await checkRestored(target.url, manifest);
  if (report.failed.length) throw new RestoreCheckError(backupId, target.name, report.failed);
  const result: RestoreResult = {
    backupId,
    target: target.name,
    rollbackBackupId,
    checks: report.passed,
    pendingMigrations: report.pendingMigrations,
    seconds: (Date.now() - started) / 1000,
  };
  ctx.logger.info(
    { backup_id: backupId, target: target.name, rollback_backup_id: rollbackBackupId, seconds: result.seconds },
    'restore complete',
  );
  return result;
}

function restoreObjectsOf(ctx: BackupContext, manifest: Manifest, o: RestoreOptions) {
  return restoreObjects(ctx, manifest, {
    objectsInto: o.objectsInto,
    force: o.force,
    confirm: o.confirm,
    onProgress: o.onProgress,
    rollback: async (reason) => (await createBackup(ctx, { kind: 'objects', reason })).id,
  });
}

function finish(
  ctx: BackupContext,
  manifest: Manifest,
  started: number,
  r: { target: string; rollbackBackupId?: string; checks: string[]; failed: string[]; pendingMigrations?: string[] },
): RestoreResult {
  if (r.failed.length) throw new RestoreCheckError(manifest.id, r.target, r.failed);
  const result: RestoreResult = {
    backupId: manifest.id,
    target: r.target,
    rollbackBackupId: r.rollbackBackupId,
    checks: r.checks,
    pendingMigrations: r.pendingMigrations ?? [],
    seconds: (Date.now() - started) / 1000,
  };
  ctx.logger.info(
    {
      backup_id: manifest.id,
      kind: manifest.kind,
      target: r.target,
      rollback_backup_id: r.rollbackBackupId,
      seconds: result.seconds,
    },
    'restore complete',
  );
  return result;
}
