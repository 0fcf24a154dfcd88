/** The backup library: what workers, the CLI and restore drills call. */
export { createBackup, abortBackup, type CreateBackupOptions } from './create.js';
export { listBackups, loadManifest, newestBackup, type BackupListing } from './list.js';
export { verifyBackup, type VerifyResult } from './verify.js';
export { restoreBackup, RestoreCheckError, type RestoreOptions, type RestoreResult } from './restore.js';
export type { BackupContext, BackupStore, OnProgress, ProgressEvent } from './context.js';
export type { Manifest, PartRecord } from './manifest.js';
// One tenant's data read out (tenant backups; the subject export of issue 18 builds on it).
export { exportTenantRows, withSnapshot, type TenantExportOptions, type TenantTableSink } from './tenant-export.js';
export { tenantTables, tenantRowsSql, GLOBAL_TABLES, type TenantTable } from './tenant-tables.js';
