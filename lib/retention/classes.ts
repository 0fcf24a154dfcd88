/**
 * The data classes retention knows, each with the tenant setting that holds its TTL.
 * Imports nothing of the project: lib/settings.ts builds its schema from this list.
 */

/**
 * Object classes of the tenant key layout (lib/storage/keys.ts, whose classPrefix gives
 * their prefixes; test/unit/retention-classes.test.ts keeps the two lists equal:
 * `tenant/{tenant_id}/{class}/{period}/{id}.{ext}`, the period a UTC day `YYYY-MM-DD`
 * or month `YYYY-MM`). Retention lists only the period prefixes wholly before the
 * cutoff, never the live ones (its cost follows what expires, not what is kept).
 */
export const OBJECT_CLASSES = [
  { name: 'objects:snapshots-raw', setting: 'snapshotsRaw', prefix: 'snapshots/raw', defaultDays: 30 },
  {
    name: 'objects:snapshots-annotated',
    setting: 'snapshotsAnnotated',
    prefix: 'snapshots/annotated',
    defaultDays: 90,
  },
  { name: 'objects:reports', setting: 'reports', prefix: 'reports', defaultDays: 365 },
  // Subject export bundles (one person's data, answered with a short-lived link): a week.
  { name: 'objects:exports', setting: 'exports', prefix: 'exports', defaultDays: 7 },
] as const;

export type ObjectClass = (typeof OBJECT_CLASSES)[number];
export type ObjectClassSetting = ObjectClass['setting'];

/** Row classes, in the order a run takes them. Names appear in receipts, metrics and the CLI. */
export const ROW_CLASSES = ['audit', 'audit:security', 'alerts', 'apikeys', 'secret-rotations'] as const;
export type RowClass = (typeof ROW_CLASSES)[number];

export type RetentionClass = RowClass | ObjectClass['name'];
export const RETENTION_CLASSES: readonly RetentionClass[] = [...ROW_CLASSES, ...OBJECT_CLASSES.map((c) => c.name)];
