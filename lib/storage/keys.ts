/**
 * The tenant key layout of the object store, the one place it is spelled:
 *
 *   tenant/{tenantId}/{class}/{period}/{objectId}.{ext}
 *   tenant/5b1e…/snapshots/raw/2026-12-06/0f3c….jpg     (class by day)
 *   tenant/5b1e…/reports/2026-12/9a77….pdf               (class by month)
 *
 * (afasa hardening plan, D). Backups copy everything under `tenant/`, retention finds
 * expired objects by the period part, and tenant isolation rests on every key being
 * built and parsed here: a part holding `..`, a `/` where none belongs, nothing, or a
 * control character is refused with a ValidationError naming the part. Periods are UTC.
 */
import { ValidationError, type FieldProblem } from '../errors.js';

export type Granularity = 'day' | 'month';

export interface ObjectClassSpec {
  /** How the period part of a key is cut: `YYYY-MM-DD` or `YYYY-MM`, in UTC. */
  readonly granularity: Granularity;
  /** Accepted content types and the extension each gives the key; the first is the default. */
  readonly contentTypes: Readonly<Record<string, string>>;
  /** Largest body accepted, in bytes (bodies are sent in one PUT; see docs/storage.md). */
  readonly maxBytes: number;
}

const MiB = 1024 * 1024;
const IMAGES = { 'image/jpeg': 'jpg', 'image/png': 'png' } as const;

/** Every object class, declared once. A class name may hold one `/` between words. */
export const OBJECT_CLASSES = {
  'snapshots/raw': { granularity: 'day', contentTypes: IMAGES, maxBytes: 20 * MiB },
  'snapshots/annotated': { granularity: 'day', contentTypes: IMAGES, maxBytes: 20 * MiB },
  reports: { granularity: 'month', contentTypes: { 'application/pdf': 'pdf', 'text/csv': 'csv' }, maxBytes: 50 * MiB },
  // Subject export bundles (lib/privacy/export.ts writes them in multipart, past this limit,
  // which only bounds producer.objects.put). Personal data: retention removes them soon.
  exports: { granularity: 'day', contentTypes: { 'application/gzip': 'tgz' }, maxBytes: 50 * MiB },
} as const satisfies Record<string, ObjectClassSpec>;

export type ObjectClass = keyof typeof OBJECT_CLASSES;
export const OBJECT_CLASS_NAMES = Object.keys(OBJECT_CLASSES) as ObjectClass[];

/** Every tenant object lives under this prefix (what the objects backup copies). */
export const TENANT_ROOT = 'tenant/';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Object ids: what a caller may choose, and what a random UUID is. */
const OBJECT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PERIOD: Record<Granularity, RegExp> = { day: /^\d{4}-\d{2}-\d{2}$/, month: /^\d{4}-\d{2}$/ };
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why a part is refused, or undefined when it is fine. The general rules come first so
 * the message says what is wrong (`..`), not only that the pattern failed.
 */
function partProblem(value: unknown, pattern: RegExp, expected: string, slashAllowed = false): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value === '') return 'must not be empty';
  if (CONTROL.test(value)) return 'must not contain control characters';
  if (value.split('/').includes('..') || value.includes('..')) return 'must not contain ".."';
  if (!slashAllowed && value.includes('/')) return 'must not contain "/"';
  if (slashAllowed && value.split('/').some((p) => p === '')) return 'must not have an empty segment';
  if (!pattern.test(value)) return `must be ${expected}`;
  return undefined;
}

function check(
  problems: FieldProblem[],
  path: string,
  value: unknown,
  pattern: RegExp,
  expected: string,
  slashAllowed = false,
): void {
  const problem = partProblem(value, pattern, expected, slashAllowed);
  if (problem) problems.push({ path, message: problem });
}

const CLASS_NAME = new RegExp(`^(${OBJECT_CLASS_NAMES.map((c) => c.replace('/', '\\/')).join('|')})$`);

/** A tenant id as keys hold it (lower case), or a ValidationError naming `tenantId`. */
export function keyTenantId(tenantId: unknown): string {
  const problems: FieldProblem[] = [];
  check(problems, 'tenantId', tenantId, /^[0-9a-fA-F-]{36}$/, 'a UUID');
  const id = typeof tenantId === 'string' ? tenantId.toLowerCase() : '';
  if (problems.length === 0 && !UUID.test(id)) problems.push({ path: 'tenantId', message: 'must be a UUID' });
  if (problems.length > 0) throw new ValidationError('object key', problems);
  return id;
}

/** The class, or a ValidationError naming `class` and listing the classes. */
export function objectClass(cls: unknown): ObjectClass {
  const problems: FieldProblem[] = [];
  check(problems, 'class', cls, CLASS_NAME, `one of ${OBJECT_CLASS_NAMES.join(', ')}`, true);
  if (problems.length > 0) throw new ValidationError('object key', problems);
  return cls as ObjectClass;
}

/** `tenant/{tenantId}/`: everything of one tenant. */
export function tenantPrefix(tenantId: string): string {
  return `${TENANT_ROOT}${keyTenantId(tenantId)}/`;
}

/** `tenant/{tenantId}/{class}/`: one class of one tenant. */
export function classPrefix(tenantId: string, cls: ObjectClass | string): string {
  return `${tenantPrefix(tenantId)}${objectClass(cls)}/`;
}

/** The period part of a key for a time, in UTC: `2026-12-06` (day) or `2026-12` (month). */
export function periodOf(cls: ObjectClass, at: Date): string {
  if (!(at instanceof Date) || Number.isNaN(at.getTime()))
    throw new ValidationError('object key', [{ path: 'at', message: 'must be a valid date' }]);
  const iso = at.toISOString();
  return OBJECT_CLASSES[cls].granularity === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

/** When a period starts, in UTC (retention compares this with its cut-off). */
export function periodStart(period: string): Date {
  return new Date(period.length === 7 ? `${period}-01T00:00:00.000Z` : `${period}T00:00:00.000Z`);
}

export interface KeyParts {
  tenantId: string;
  class: ObjectClass | string;
  /** When the object was made; its period is the key's date part. */
  at: Date;
  /** `[A-Za-z0-9_-]`, 1-128 characters. */
  id: string;
  /** One of the class's content types; decides the extension. Default: the class's first. */
  contentType?: string | undefined;
}

/** The key of one object. Every part is checked; all problems are reported at once. */
export function objectKey(parts: KeyParts): string {
  const problems: FieldProblem[] = [];
  let tenantId = '';
  let cls: ObjectClass | undefined;
  try {
    tenantId = keyTenantId(parts.tenantId);
  } catch (err) {
    problems.push(...(err as ValidationError).fields);
  }
  try {
    cls = objectClass(parts.class);
  } catch (err) {
    problems.push(...(err as ValidationError).fields);
  }
  check(problems, 'id', parts.id, OBJECT_ID, '1-128 letters, digits, _ or -');
  if (!(parts.at instanceof Date) || Number.isNaN(parts.at.getTime()))
    problems.push({ path: 'at', message: 'must be a valid date' });
  let ext: string | undefined;
  if (cls) {
    const types = OBJECT_CLASSES[cls].contentTypes as Record<string, string>;
    const type = parts.contentType ?? Object.keys(types)[0]!;
    ext = Object.hasOwn(types, type) ? types[type] : undefined;
    if (!ext)
      problems.push({
        path: 'contentType',
        message: `must be one of ${Object.keys(types).join(', ')} for class ${cls}`,
      });
  }
  if (problems.length > 0) throw new ValidationError('object key', problems);
  return `${TENANT_ROOT}${tenantId}/${cls!}/${periodOf(cls!, parts.at)}/${parts.id}.${ext!}`;
}

export interface ParsedKey {
  tenantId: string;
  class: ObjectClass;
  /** The key's period as written (`2026-12-06` or `2026-12`). */
  period: string;
  id: string;
  ext: string;
  contentType: string;
}

/**
 * Read a key back into its parts, or refuse it (ValidationError naming `key`). Only a
 * key this module could have built parses: anything else, a `..` or an extra segment
 * included, is refused, so a parsed key's tenant is the prefix it really lies under.
 */
export function parseObjectKey(key: unknown, path = 'key'): ParsedKey {
  const fail = (message: string): never => {
    throw new ValidationError('object key', [{ path, message }]);
  };
  if (typeof key !== 'string' || key === '') return fail('must be a non-empty string');
  if (key.length > 1024) fail('must be at most 1024 characters');
  if (CONTROL.test(key)) fail('must not contain control characters');
  if (key.includes('..')) fail('must not contain ".."');
  if (!key.startsWith(TENANT_ROOT)) fail(`must start with ${TENANT_ROOT}`);
  const segments = key.slice(TENANT_ROOT.length).split('/');
  if (segments.some((s) => s === '')) fail('must not have an empty segment');
  const [tenantId, ...rest] = segments;
  if (!UUID.test(tenantId!)) fail('must name a tenant by its lower-case UUID');
  const file = rest.pop();
  const period = rest.pop();
  const cls = rest.join('/');
  if (!OBJECT_CLASS_NAMES.includes(cls as ObjectClass)) fail(`must name a class (${OBJECT_CLASS_NAMES.join(', ')})`);
  const spec = OBJECT_CLASSES[cls as ObjectClass];
  if (
    !period ||
    !PERIOD[spec.granularity].test(period) ||
    Number.isNaN(periodStart(period).getTime()) ||
    periodStart(period).toISOString().slice(0, period.length) !== period
  ) {
    fail(`must have a ${spec.granularity === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'} period for class ${cls}`);
  }
  const m = /^([A-Za-z0-9_-]{1,128})\.([a-z0-9]{1,8})$/.exec(file ?? '');
  const entry = m ? Object.entries(spec.contentTypes).find(([, e]) => e === m[2]) : undefined;
  if (!m || !entry) return fail(`must end in {id}.{ext} with an extension of class ${cls}`);
  return {
    tenantId: tenantId!,
    class: cls as ObjectClass,
    period: period!,
    id: m[1]!,
    ext: m[2]!,
    contentType: entry[0],
  };
}

/**
 * Parse a key and require it to be the tenant's: the check every read through a
 * tenant-facing interface makes. Another tenant's key is refused like a malformed one.
 */
export function tenantObjectKey(tenantId: string, key: unknown, path = 'key'): ParsedKey {
  const own = keyTenantId(tenantId);
  const parsed = parseObjectKey(key, path);
  if (parsed.tenantId !== own)
    throw new ValidationError('object key', [{ path, message: `is not under tenant ${own}'s prefix` }]);
  return parsed;
}
