/** `bulwark subject erase` and `bulwark subject erasure-key` (lib/privacy/erase.ts). */
import { createStorage, type Storage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { eraseSubject, type EraseResult } from '../../lib/privacy/erase.js';
import { erasureKeys, requireErasureSigner } from '../../lib/privacy/erasure-record.js';
import { progressBar, type CliIO } from '../output.js';
import { withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export interface SubjectEraseArgs {
  tenantId: string;
  subject: string;
  reason: string;
  dryRun?: boolean;
  json?: boolean;
  /** The object store. Default: the configured one (S3_*). */
  storage?: Storage;
}

/** One line saying what was erased (or would be); "nothing" said plainly. */
export function eraseSummary(r: EraseResult): string {
  const entries = r.entries.format1 + r.entries.format2;
  const total = entries + r.alerts + r.objects + r.exports;
  const what = `${entries} audit entr${entries === 1 ? 'y' : 'ies'} (${r.entries.format1} format 1, ${r.entries.format2} format 2), ${r.alerts} alert(s) with ${r.deliveries} delivery record(s), ${r.objects} object(s), ${r.exports} earlier export bundle(s)`;
  if (r.dryRun)
    return total === 0
      ? 'dry run: nothing names this subject; nothing would be erased'
      : `dry run: would erase ${what}`;
  const none = total === 0 ? 'nothing names this subject (unknown, or erased before): 0 erased; ' : '';
  return `${none}erased ${what}; erasure ${r.erasureId}, recorded as audit entry ${r.eventId}`;
}

export async function runSubjectErase(config: Config, io: CliIO, a: SubjectEraseArgs): Promise<number> {
  // Checked before anything is read: a dry run needs the key too (it finds the run).
  const signer = requireErasureSigner(erasureKeys(config));
  const storage = a.storage ?? createStorage(config.storage);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const result = await withTenant(config, a.tenantId, (prisma) =>
    eraseSubject(
      {
        prisma,
        storage,
        signer,
        onProgress: (phase, done, total) => {
          let bar = bars.get(phase);
          if (!bar) bars.set(phase, (bar = progressBar(io, `erasing ${phase}`, total)));
          bar.update(done);
          if (done >= total) bar.done();
        },
      },
      { tenantId: a.tenantId, subject: a.subject, reason: a.reason, dryRun: a.dryRun },
      CLI_ACTOR,
    ),
  );
  io.out(a.json ? JSON.stringify(result) : eraseSummary(result));
  return 0;
}

export async function runErasureKey(config: Config, io: CliIO): Promise<number> {
  const signer = requireErasureSigner(erasureKeys(config));
  io.out(signer.publicKey.raw.toString('base64'));
  io.err(`key id ${signer.publicKey.id}: put it in ERASURE_PUBLIC_KEYS of verifiers (and after a rotation)`);
  return 0;
}
