/** `bulwark secret set|rotate|list|history` and `bulwark keys generate|rotate-master`. */
import { createPrisma } from '../../lib/clients/prisma.js';
import { requireMasterKeys, type Config } from '../../lib/config.js';
import { generateFernetKey } from '../../lib/crypto/fernet.js';
import { MASTER_KEY_ID, MASTER_KEY_ID_RULE } from '../../lib/crypto/master-keys.js';
import { ROTATION_BATCH_MAX, RotationBatchError, rotateMasterKey, type RotationReport } from '../../lib/secrets/rotation.js';
import { SECRET_NAME, SECRET_NAME_RULE, listSecrets, requireSecret, secretHistory, setSecret } from '../../lib/secrets/secrets.js';
import { UsageError } from '../flags.js';
import { progressBar, type CliIO } from '../output.js';
import { withTenant } from './with-prisma.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

/** The value comes from stdin, never from argv (argv shows up in `ps` and shell history). */
export async function readSecretFromStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean }, io: CliIO): Promise<string> {
  if (stdin.isTTY) io.err('enter the secret value, then press Ctrl-D:');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The value is read only after the tenant is known to exist, so a mistyped --tenant is
 * reported before anyone is asked to paste a secret.
 */
export async function runSecretSet(
  config: Config,
  io: CliIO,
  args: { tenantId: string; name: string; readValue: () => Promise<string>; mustExist: boolean },
): Promise<number> {
  const keys = requireMasterKeys(config);
  // Everything that can be judged without the value is judged first: nobody pastes a
  // secret only to learn that its name or the secret to rotate was wrong.
  if (!SECRET_NAME.test(args.name)) throw new UsageError(`secret name "${args.name.slice(0, 64)}" ${SECRET_NAME_RULE}`);
  const result = await withTenant(config, args.tenantId, async (prisma) => {
    // rotate is set on a secret that exists, checked here before the value is read.
    if (args.mustExist) await requireSecret(prisma, args.tenantId, args.name);
    return setSecret(prisma, keys, { tenantId: args.tenantId, name: args.name, value: await args.readValue() }, CLI_ACTOR);
  });
  io.out(`${result.rotated ? 'rotated' : 'created'} secret ${result.name} (version ${result.version}, key ${result.keyId}); reference it as secret://${result.name}`);
  return 0;
}

export async function runSecretList(config: Config, io: CliIO, tenantId: string): Promise<number> {
  const rows = await withTenant(config, tenantId, (prisma) => listSecrets(prisma, tenantId));
  for (const s of rows) io.out(`${s.name}\tversion ${s.version}\tkey ${s.keyId}\tupdated ${s.updatedAt.toISOString()}${s.rotatedAt ? `\trotated ${s.rotatedAt.toISOString()}` : ''}`);
  io.out(`${rows.length} secret(s)`);
  return 0;
}

export async function runSecretHistory(config: Config, io: CliIO, tenantId: string, name: string): Promise<number> {
  const h = await withTenant(config, tenantId, (prisma) => secretHistory(prisma, tenantId, name));
  io.out(`created ${h.createdAt.toISOString()}`);
  for (const r of h.rotations) io.out(`rotated ${r.rotatedAt.toISOString()}: version ${r.fromVersion} -> ${r.toVersion}`);
  return 0;
}

export function runKeysGenerate(io: CliIO, id: string): number {
  // The rule MASTER_KEYS applies: an entry printed here that MASTER_KEYS then refused
  // would only be found out at the next deploy, which would not start.
  if (!MASTER_KEY_ID.test(id)) throw new UsageError(`--id must be ${MASTER_KEY_ID_RULE} (the ids MASTER_KEYS accepts)`);
  io.out(`${id}:${generateFernetKey()}`);
  io.err('put it first in MASTER_KEYS (e.g. MASTER_KEYS=<new>,<old>) and run `bulwark keys rotate-master`');
  return 0;
}

export async function runRotateMaster(config: Config, io: CliIO, batchSize: number): Promise<number> {
  const keys = requireMasterKeys(config);
  const prisma = createPrisma(config, { max: 2 });
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    const report = await rotateMasterKey(prisma, keys, {
      batchSize,
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
      io.err(`run it again: it continues with what is left (a smaller --batch-size, 1-${ROTATION_BATCH_MAX}, makes each transaction shorter)`);
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
}

function printReport(io: CliIO, report: RotationReport, keyId: string): void {
  for (const f of report.failed) io.err(`FAILED  tenant ${f.tenantId} secret ${f.name} (key ${f.keyId}): ${f.error}`);
  io.out(`re-encrypted ${report.reencrypted} of ${report.total} secret(s) under key ${keyId}; ${report.failed.length} failed`);
}
