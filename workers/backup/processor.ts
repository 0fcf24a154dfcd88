/**
 * The backup job: one backup of the kind the payload names. The id of the backup an
 * attempt starts is kept in the job's progress, so the next attempt (after a failure,
 * or after a worker was killed mid-backup and the job was found stalled) first deals
 * with it: a predecessor that finished (its manifest written, the job not yet marked
 * complete) is the result, never a second backup; one that did not is removed before
 * a new backup starts, under a later id. So a job ends with exactly one whole backup. An objects backup
 * is the exception to starting over: its retry carries on with the same id from the
 * checkpoint the failed attempt left (lib/backup/objects.ts), so a large bucket is not
 * copied again from the first key after every outage; only the last attempt, when it
 * fails, removes what was copied.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import {
  backupJobSchema,
  type BackupJob,
  type BackupJobResult,
  type BackupProgress,
} from '../../lib/contracts/backup.js';
import type { BackupContext } from '../../lib/backup/context.js';
import { abortBackup, createBackup } from '../../lib/backup/create.js';
import { loadManifest } from '../../lib/backup/list.js';
import type { Manifest } from '../../lib/backup/manifest.js';
import { NotFoundError } from '../../lib/errors.js';

type ProgressJob = Pick<Job, 'id' | 'progress' | 'updateProgress'> & Partial<Pick<Job, 'attemptsMade' | 'opts'>>;

/** What a finished backup's manifest says of it: the job's result, and the gauges' values. */
export const resultOf = (m: Manifest): BackupJobResult => ({
  backupId: m.id,
  kind: m.kind,
  parts: m.parts.length,
  // Parts and, for objects and tenant backups, the object copies.
  bytes: m.parts.reduce((n, p) => n + p.size, 0) + (m.objects?.bytes ?? 0),
  seconds: (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000,
});

/**
 * What a previous attempt left: its backup's manifest if it finished; else, for an
 * objects backup, its id to resume; else nothing (its objects removed).
 */
async function previousAttempt(
  ctx: BackupContext,
  job: ProgressJob,
  kind: BackupJob['kind'],
): Promise<{ done?: Manifest; resumeId?: string; removedId?: string }> {
  const prior = (job.progress as Partial<BackupProgress> | undefined)?.backupId;
  if (typeof prior !== 'string' || prior === '') return {};
  try {
    return { done: await loadManifest(ctx, prior) };
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    if (kind === 'objects') return { resumeId: prior };
    await abortBackup(ctx, prior);
    return { removedId: prior };
  }
}

export async function processBackup(data: unknown, ctx: BackupContext, job: ProgressJob): Promise<BackupJobResult> {
  const parsed = backupJobSchema.safeParse(data);
  if (!parsed.success)
    throw new UnrecoverableError(
      `invalid backup payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  const payload = parsed.data;
  const { done, resumeId, removedId } = await previousAttempt(ctx, job, payload.kind);
  if (done) return resultOf(done);
  // Not the last attempt (or a stand-in job that does not say): keep a failed objects copy for the retry.
  const attempts = job.opts?.attempts ?? 1;
  const keepOnFailure = job.attemptsMade === undefined || job.attemptsMade + 1 < attempts;
  let state: BackupProgress = { backupId: '', phase: 'starting', bytes: 0, parts: 0 };
  let lastReport = 0;
  const report = async (next: BackupProgress, force = false) => {
    state = next;
    // Progress goes to Redis at most twice a second; every part's upload is not news.
    if (!force && Date.now() - lastReport < 500) return;
    lastReport = Date.now();
    await job.updateProgress({ ...state }).catch(() => undefined);
  };
  const manifest = await createBackup(ctx, {
    kind: payload.kind,
    tenantId: payload.kind === 'tenant' ? payload.tenantId : undefined,
    resumeId,
    idAfter: removedId,
    keepOnFailure,
    // The id is recorded before any part is uploaded, so a crash after this leaves a trace.
    onId: (backupId) => report({ ...state, backupId }, true),
    onProgress: (e) =>
      void report({ ...state, phase: 'uploading', bytes: e.done, parts: state.parts + (e.part ? 1 : 0) }),
  });
  const result = resultOf(manifest);
  await report({ backupId: manifest.id, phase: 'done', bytes: result.bytes, parts: result.parts }, true);
  return result;
}
