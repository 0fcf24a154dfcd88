/**
 * The work behind `bulwark subject export` (cli/commands/subject.ts declares it): in
 * this process, with a Prisma client and the configured object store, audited as the
 * CLI (`bulwark-cli`). The link goes alone on stdout (`URL=$(bulwark subject export …)`),
 * what the bundle holds on stderr; on a terminal a progress bar counts the records.
 */
import { buffer } from 'node:stream/consumers';
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { exportSubject, type ExportProgress, type SubjectExport } from '../../lib/privacy/export.js';
import { progressBar, type CliIO } from '../output.js';
import { withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export interface SubjectExportArgs {
  tenantId: string;
  /** The subject, or `-` to read it from stdin (one line; keeps it out of `ps` and shell history). */
  subject: string;
  json?: boolean;
  stdin?: NodeJS.ReadableStream;
}

/** The subject from the flag, or from stdin for `-` (one trailing newline dropped). */
export async function subjectArg(subject: string, stdin: NodeJS.ReadableStream | undefined): Promise<string> {
  if (subject !== '-') return subject;
  return (await buffer(stdin ?? process.stdin)).toString('utf8').replace(/\r?\n$/, '');
}

export function exportSummary(e: SubjectExport): string {
  const c = e.counts;
  const what = e.empty
    ? 'no data found for the subject: the bundle holds 0 audit entries, 0 alerts and 0 objects'
    : `${c.auditEntries} audit entr${c.auditEntries === 1 ? 'y' : 'ies'}, ${c.alerts} alert(s), ${c.objects} object(s) (${c.objectBytes} bytes)`;
  return `exported ${what}; bundle ${e.key}, ${e.bytes} bytes, sha256 ${e.sha256}; link valid until ${e.expiresAt.toISOString()}`;
}

export async function runSubjectExport(config: Config, io: CliIO, a: SubjectExportArgs): Promise<number> {
  const subject = await subjectArg(a.subject, a.stdin);
  let bar: ReturnType<typeof progressBar> | undefined;
  const onProgress = (p: ExportProgress) => {
    bar ??= progressBar(io, 'exporting', p.total);
    bar.update(p.done);
  };
  const result = await withTenant(config, a.tenantId, (prisma) =>
    exportSubject(
      {
        prisma,
        storage: createStorage(config.storage),
        databaseUrl: config.databaseUrl,
        linkSeconds: config.privacyExportLinkSeconds,
      },
      { tenantId: a.tenantId, subject, actor: CLI_ACTOR, onProgress },
    ),
  ).finally(() => bar?.done());
  if (a.json) {
    io.out(JSON.stringify({ ...result, expiresAt: result.expiresAt.toISOString() }));
    return 0;
  }
  io.out(result.url);
  io.err(exportSummary(result));
  return 0;
}
