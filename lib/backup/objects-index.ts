/**
 * Reading an objects index back, and checking the copies it lists: each object of the
 * backup downloaded and its size and SHA-256 compared with the signed index, so a
 * verify proves every object byte for byte. Also that every key is under the prefix
 * the backup is of (one tenant's backup holds nothing of another tenant).
 */
import type { BackupContext } from './context.js';
import { mapLimit } from './iterate.js';
import type { Manifest } from './manifest.js';
import { hashObject } from './object-copy.js';
import { COPIES_IN_FLIGHT, indexEntrySchema, OBJECTS_INDEX_STREAM, type IndexEntry } from './objects.js';
import { PartError, readStream } from './parts.js';
import { TENANT_ROOT, tenantPrefix } from '../storage/keys.js';

/** A copied object that is missing, changed, or outside the backup's scope. */
export class ObjectCheckError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`object ${key}: ${problem}`);
    this.name = 'ObjectCheckError';
  }
}

/** The prefix every object of this backup must be under. */
export const sourcePrefixOf = (m: Pick<Manifest, 'kind' | 'tenantId'>) =>
  m.kind === 'tenant' && m.tenantId ? tenantPrefix(m.tenantId) : TENANT_ROOT;

/** The index entries, in order, in batches (one per index part), each part checked before use. */
export async function* readIndex(
  ctx: BackupContext,
  manifest: Manifest,
  identities: readonly string[],
): AsyncGenerator<IndexEntry[]> {
  const parts = manifest.parts.filter((p) => p.stream === OBJECTS_INDEX_STREAM);
  if (manifest.objects && parts.length === 0)
    throw new PartError(OBJECTS_INDEX_STREAM, 'the manifest lists objects but no index parts');
  let rest = '';
  let line = 0;
  const parse = (text: string): IndexEntry => {
    line++;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PartError(OBJECTS_INDEX_STREAM, `index line ${line} is not JSON`);
    }
    const entry = indexEntrySchema.safeParse(json);
    if (!entry.success) throw new PartError(OBJECTS_INDEX_STREAM, `index line ${line} is not an index entry`);
    return entry.data;
  };
  for await (const chunk of readStream(ctx.storage, parts, identities)) {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop()!;
    yield lines.filter((l) => l !== '').map(parse);
  }
  if (rest !== '') yield [parse(rest)];
}

/** Every copy downloaded and compared with the index; throws ObjectCheckError naming the first bad one. */
export async function checkObjectsIndex(
  ctx: BackupContext,
  manifest: Manifest,
  identities: readonly string[],
): Promise<string> {
  const m = manifest.objects;
  if (!m) return 'objects: none in this backup';
  const scope = sourcePrefixOf(manifest);
  let count = 0;
  let bytes = 0;
  for await (const entries of readIndex(ctx, manifest, identities)) {
    for (const e of entries)
      if (!e.key.startsWith(scope)) throw new ObjectCheckError(e.key, `is outside ${scope}, what this backup is of`);
    await mapLimit(entries, COPIES_IN_FLIGHT, async (e) => {
      const got = await hashObject(ctx.storage, ctx.storage.backupBucket, m.prefix + e.key);
      if (!got) throw new ObjectCheckError(e.key, `is missing from the backup (${m.prefix}${e.key})`);
      if (got.size !== e.size) throw new ObjectCheckError(e.key, `is ${got.size} bytes, the index says ${e.size}`);
      if (got.sha256 !== e.sha256)
        throw new ObjectCheckError(e.key, 'SHA-256 differs from the index (changed or corrupted)');
    });
    count += entries.length;
    bytes += entries.reduce((n, e) => n + e.size, 0);
  }
  if (count !== m.count || bytes !== m.bytes)
    throw new ObjectCheckError(
      m.prefix,
      `the index lists ${count} objects (${bytes} bytes), the manifest ${m.count} (${m.bytes})`,
    );
  return `objects: ${count} object(s), ${bytes} bytes, each downloaded and matching its SHA-256`;
}
