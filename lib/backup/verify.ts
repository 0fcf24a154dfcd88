/**
 * verifyBackup: everything short of restoring, touching no database. The manifest's
 * signature and schema; every part downloaded, its size and SHA-256 checked, decrypted
 * with BACKUP_KEYS, its plaintext SHA-256 checked; then the content itself: a database
 * dump must be readable by `pg_restore --list`, NDJSON tables must parse, copied
 * objects must be there with their sizes. The first problem fails it, naming the part.
 */
import type { BackupContext, OnProgress } from './context.js';
import { backupKeys } from './keys.js';
import { loadManifest } from './list.js';
import type { Manifest, PartRecord } from './manifest.js';
import { PartError, readStream } from './parts.js';
import { runTool } from './pg-tools.js';
import { checkObjectsIndex } from './objects-index.js';
import { OBJECTS_INDEX_STREAM } from './objects.js';

export interface VerifyResult {
  backupId: string;
  kind: Manifest['kind'];
  parts: number;
  bytes: number;
  /** What was checked, for the CLI and drill evidence. */
  checks: string[];
}

export function streamsOf(manifest: Manifest): Map<string, PartRecord[]> {
  const streams = new Map<string, PartRecord[]>();
  for (const p of manifest.parts) streams.set(p.stream, [...(streams.get(p.stream) ?? []), p]);
  return streams;
}

/** Feed a dump's plaintext to `pg_restore --list` (needs no database). */
async function checkDump(chunks: AsyncIterable<Buffer>): Promise<void> {
  const tool = runTool('pg_restore', ['--list'], 'postgresql://localhost/none', ['pipe', 'ignore', 'pipe']);
  let alive = true;
  tool.done.then(
    () => (alive = false),
    () => (alive = false),
  );
  // Every part is read and checked even if pg_restore has seen enough of the TOC.
  try {
    for await (const c of chunks) {
      if (alive && !tool.child.stdin!.write(c)) {
        await Promise.race([new Promise((r) => tool.child.stdin!.once('drain', r)), tool.done.catch(() => undefined)]);
      }
    }
  } catch (err) {
    // A bad part ends the reading: pg_restore would wait for the rest of its input forever.
    tool.child.kill();
    throw err;
  }
  tool.child.stdin!.end();
  await tool.done;
}

async function checkNdjson(stream: string, chunks: AsyncIterable<Buffer>): Promise<number> {
  let rest = '';
  let lines = 0;
  const check = (line: string) => {
    if (line === '') return;
    try {
      JSON.parse(line);
      lines++;
    } catch {
      throw new PartError(stream, `line ${lines + 1} is not JSON`);
    }
  };
  for await (const c of chunks) {
    const text = rest + c.toString('utf8');
    const all = text.split('\n');
    rest = all.pop()!;
    all.forEach(check);
  }
  check(rest);
  return lines;
}

export async function verifyBackup(
  ctx: BackupContext,
  backupId: string,
  o: { onProgress?: OnProgress } = {},
): Promise<VerifyResult> {
  const manifest = await loadManifest(ctx, backupId);
  const { identities } = await backupKeys(ctx.config);
  const checks = ['manifest signature and schema'];
  const total = manifest.parts.reduce((n, p) => n + p.size, 0);
  let before = 0;
  for (const [stream, parts] of streamsOf(manifest)) {
    const progress: OnProgress | undefined =
      o.onProgress && ((e) => o.onProgress!({ ...e, phase: 'verifying', done: before + e.done, total }));
    const chunks = readStream(ctx.storage, parts, identities, progress);
    if (stream === 'database') {
      await checkDump(chunks).catch((err: unknown) => {
        if (err instanceof PartError) throw err;
        throw new PartError(parts.at(-1)!.key, `pg_restore --list cannot read the dump: ${(err as Error).message}`);
      });
      checks.push(`database: ${parts.length} part(s) checked, decrypted, readable by pg_restore --list`);
    } else if (stream === OBJECTS_INDEX_STREAM) {
      // Read, checked and compared object by object below (checkObjectsIndex).
      continue;
    } else {
      const rows = await checkNdjson(stream, chunks);
      const expected = manifest.tables[stream];
      if (manifest.kind === 'tenant' && expected !== rows)
        throw new PartError(
          parts.at(-1)!.key,
          `table ${stream} has ${rows} row(s), the manifest says ${expected ?? 'none'}`,
        );
      checks.push(`${stream}: ${parts.length} part(s) checked, decrypted, ${rows} JSON line(s)`);
    }
    before += parts.reduce((n, p) => n + p.size, 0);
  }
  if (manifest.objects) checks.push(await checkObjectsIndex(ctx, manifest, identities));
  return { backupId, kind: manifest.kind, parts: manifest.parts.length, bytes: total, checks };
}
