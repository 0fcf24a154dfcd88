/**
 * What the backup functions need. The AppContext (workers, scheduler) satisfies it,
 * and so does the small context `bulwark backup …` builds for itself.
 */
import type { Client as MinioClient } from 'minio';
import type { RedisClient } from '../clients/redis.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** The part of lib/clients/storage.ts's Storage that backups use. */
export interface BackupStore {
  readonly client: MinioClient;
  /** Tenant data (objects backups copy `tenant/` from here). */
  readonly bucket: string;
  readonly backupBucket: string;
}

export interface BackupContext {
  readonly config: Config;
  readonly storage: BackupStore;
  /** For the one-database-backup-at-a-time lock. */
  readonly redis: RedisClient;
  readonly logger: Logger;
}

/** Progress of a long backup, verify or restore (bytes of its parts so far). */
export interface ProgressEvent {
  phase: string;
  done: number;
  total?: number;
  part?: string;
}
export type OnProgress = (event: ProgressEvent) => void;
