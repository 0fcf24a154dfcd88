/**
 * Where a backup lives in the backup bucket: `{env}/{backupId}/…`, with the manifest
 * (written last) at `{env}/{backupId}/manifest.json`. Ids are UTC seconds, so they
 * sort by time as strings.
 */
export const MANIFEST_NAME = 'manifest.json';

/** The backup id of an instant: `YYYYMMDDTHHMMSSZ` (UTC). */
export function backupIdAt(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** The instant a backup id names. */
export function backupIdTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  if (!m) throw new Error(`not a backup id: ${id}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export const backupPrefix = (env: string, id: string) => `${env}/${id}/`;
/** Written first: marks an unfinished backup so listings show it as incomplete. */
export const startedKey = (env: string, id: string) => `${backupPrefix(env, id)}started.json`;
export const manifestKey = (env: string, id: string) => `${backupPrefix(env, id)}${MANIFEST_NAME}`;
/** Part n (1-based) of a stream: `{env}/{id}/{stream}/part-00001.age`. */
export const partKey = (env: string, id: string, stream: string, n: number) =>
  `${backupPrefix(env, id)}${stream}/part-${String(n).padStart(5, '0')}.age`;
/** Where an objects (or tenant) backup keeps its copies: `{env}/{id}/objects/` + the object's own key. */
export const objectsPrefix = (env: string, id: string) => `${backupPrefix(env, id)}objects/`;
/** How far an objects copy got (removed when the backup completes): a retry resumes from it. */
export const checkpointKey = (env: string, id: string) => `${backupPrefix(env, id)}objects-checkpoint.json`;
/** Part n of one table's NDJSON in a tenant backup: `{env}/{id}/tables/{table}/part-00001.age`. */
export const tablePartKey = (env: string, id: string, table: string, n: number) =>
  partKey(env, id, `tables/${table}`, n);
