/** `bulwark keys generate|rotate-master`: the master keys that encrypt every secret. */
import { ROTATION_BATCH_MAX } from '../../lib/limits.js';
import { command, defineGroup, UsageError } from '../command.js';
import { progressBar, type CliIO } from '../output.js';
import type { RotationReport } from '../../lib/secrets/rotation.js';

function printReport(io: CliIO, report: RotationReport, keyId: string): void {
  for (const f of report.failed) io.err(`FAILED  tenant ${f.tenantId} secret ${f.name} (key ${f.keyId}): ${f.error}`);
  io.out(
    `re-encrypted ${report.reencrypted} of ${report.total} secret(s) under key ${keyId}; ${report.failed.length} failed`,
  );
}

export default defineGroup({
  section: 'Secrets (values are read from stdin, never from arguments)',
  commands: {
    generate: command({
      flags: { id: { type: 'string', value: 'ID' } },
      about: ['print a new master key entry for MASTER_KEYS;', 'ID: 1-32 letters, digits, _ or -'],
      async run(f, { io }) {
        const [{ generateFernetKey }, { MASTER_KEY_ID, MASTER_KEY_ID_RULE }] = await Promise.all([
          import('../../lib/crypto/fernet.js'),
          import('../../lib/crypto/master-keys.js'),
        ]);
        const id = f.id ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
        // The rule MASTER_KEYS applies: an entry printed here that MASTER_KEYS then refused
        // would only be found out at the next deploy, which would not start.
        if (!MASTER_KEY_ID.test(id))
          throw new UsageError(`--id must be ${MASTER_KEY_ID_RULE} (the ids MASTER_KEYS accepts)`);
        io.out(`${id}:${generateFernetKey()}`);
        io.err('put it first in MASTER_KEYS (e.g. MASTER_KEYS=<new>,<old>) and run `bulwark keys rotate-master`');
        return 0;
      },
    }),
    'rotate-master': command({
      flags: { 'batch-size': { type: 'int', min: 1, max: ROTATION_BATCH_MAX, default: 200 } },
      about: [
        're-encrypt every secret under the first MASTER_KEYS key;',
        `batch 1-${ROTATION_BATCH_MAX}; exit 0 only for "N of N", "0 failed"`,
      ],
      async run(f, { config, io }) {
        const c = await config();
        const [{ requireMasterKeys }, { createPrisma }, { RotationBatchError, rotateMasterKey }] = await Promise.all([
          import('../../lib/config.js'),
          import('../../lib/clients/prisma.js'),
          import('../../lib/secrets/rotation.js'),
        ]);
        const keys = requireMasterKeys(c);
        const prisma = createPrisma(c, { max: 2 });
        let bar: ReturnType<typeof progressBar> | undefined;
        try {
          const report = await rotateMasterKey(prisma, keys, {
            batchSize: f['batch-size'],
            onProgress: (done, total) => {
              bar ??= progressBar(io, 're-encrypting', total);
              bar.update(done);
            },
          }).catch((err: unknown) => {
            if (!(err instanceof RotationBatchError)) throw err;
            // The run so far, then the batch that stopped it: what is done stays done.
            bar?.done();
            printReport(io, err.report, keys.current.id);
            io.err(`bulwark: ${err.message}`);
            io.err(
              `run it again: it continues with what is left (a smaller --batch-size, 1-${ROTATION_BATCH_MAX}, makes each transaction shorter)`,
            );
            return undefined;
          });
          if (!report) return 1;
          bar?.done();
          printReport(io, report, keys.current.id);
          // Success means every secret counted at the start is now under the current key: the
          // old key may be removed only then. Fewer without a failure (another run got to some
          // first) still asks for a run that confirms it.
          if (report.failed.length === 0 && report.reencrypted < report.total) {
            io.err(
              `${report.total - report.reencrypted} secret(s) were not re-encrypted by this run; run it again and remove the old key only when it reports N of N, 0 failed ` +
                '(another run, or a change of the secret, got to them after this run counted them)',
            );
          }
          return report.failed.length === 0 && report.reencrypted === report.total ? 0 : 1;
        } finally {
          await prisma.$disconnect();
        }
      },
    }),
  },
});
