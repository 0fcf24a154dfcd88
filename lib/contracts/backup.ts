/**
 * backup contract: queue name, job payload (versioned by `v`) and queue policy. See
 * docs/jobs/backup.md. A job carries what to back up, never a key or a URL with a
 * password: the worker reads those from its own configuration.
 */
import { z } from 'zod';
import { TENANT_ID, type QueuePolicy } from './common.js';
import { defineJob, type QueueDefinition } from './job.js';

export const BACKUP_QUEUE = 'backup';
export const BACKUP_KINDS = ['database', 'objects', 'tenant'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

/** A backup id: its UTC start time to the second, `YYYYMMDDTHHMMSSZ`. */
export const BACKUP_ID = z.string().regex(/^\d{8}T\d{6}Z$/, 'must be a backup id like 20261206T230000Z (UTC time)');

export const backupJobSchema = z
  .discriminatedUnion(
    'kind',
    [
      z.object({ v: z.literal(1), kind: z.literal('database') }).strict(),
      z.object({ v: z.literal(1), kind: z.literal('objects') }).strict(),
      z.object({ v: z.literal(1), kind: z.literal('tenant'), tenantId: TENANT_ID }).strict(),
    ],
    { error: `kind must be one of ${BACKUP_KINDS.join(', ')}` },
  );
export type BackupJob = z.output<typeof backupJobSchema>;

/** What a completed backup job returns (Bull Board shows it). */
export interface BackupJobResult {
  backupId: string;
  kind: BackupKind;
  parts: number;
  bytes: number;
  seconds: number;
}

/** Progress reported on the job while it runs (Bull Board shows it). */
export interface BackupProgress {
  backupId: string;
  phase: 'starting' | 'uploading' | 'manifest' | 'done';
  bytes: number;
  parts: number;
}

/**
 * One backup at a time in the whole deployment: concurrency 1 per worker process, a
 * global concurrency of 1 on the queue (set by the worker at start), and for database
 * backups a Redis lock that `bulwark backup create` takes too (lib/backup/lock.ts).
 * A backup holds one Postgres connection and the pg_dump session, never a share of
 * the audit-write pool, so audit writes are not starved. Retries are slow and many:
 * an object store or database outage of up to about an hour is waited out.
 */
export const backupPolicy: QueuePolicy = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 15000 },
  concurrency: 1,
  limiter: { max: 1, duration: 1000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

export const backupQueue: QueueDefinition = { name: BACKUP_QUEUE, policy: backupPolicy };

/** The backup job: its payload says which kind. Scheduling is the drills' (nightly cron). */
export const backupJob = defineJob({ queue: backupQueue, name: 'backup', schema: backupJobSchema });
