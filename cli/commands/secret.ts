/** `bulwark secret set|rotate|list|history`: a tenant's secrets (values from stdin only). */
import { command, defineGroup, TENANT, UsageError, type RunContext } from '../command.js';
import type { CliIO } from '../output.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };
const NAME = { type: 'string', value: 'NAME', required: true } as const;

/** The value comes from stdin, never from argv (argv shows up in `ps` and shell history). */
async function readSecretFromStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean }, io: CliIO): Promise<string> {
  if (stdin.isTTY) io.err('enter the secret value, then press Ctrl-D:');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * `secret set` and `secret rotate` (which needs the secret to exist). The value is read
 * only after everything that can be judged without it was: nobody pastes a secret only
 * to learn that the tenant, its name or the secret to rotate was wrong.
 */
async function setSecretFromStdin(
  f: { tenant: string; name: string },
  { config, io, stdin }: RunContext,
  mustExist: boolean,
): Promise<number> {
  const c = await config();
  const [{ requireMasterKeys }, { SECRET_NAME, SECRET_NAME_RULE, requireSecret, setSecret }, { withTenant }] =
    await Promise.all([import('../../lib/config.js'), import('../../lib/secrets/secrets.js'), import('./with-prisma.js')]);
  const keys = requireMasterKeys(c);
  if (!SECRET_NAME.test(f.name)) throw new UsageError(`secret name "${f.name.slice(0, 64)}" ${SECRET_NAME_RULE}`);
  const result = await withTenant(c, f.tenant, async (prisma) => {
    if (mustExist) await requireSecret(prisma, f.tenant, f.name);
    return setSecret(
      prisma,
      keys,
      { tenantId: f.tenant, name: f.name, value: await readSecretFromStdin(stdin, io) },
      CLI_ACTOR,
    );
  });
  io.out(
    `${result.rotated ? 'rotated' : 'created'} secret ${result.name} (version ${result.version}, key ${result.keyId}); reference it as secret://${result.name}`,
  );
  return 0;
}

export default defineGroup({
  section: 'Secrets (values are read from stdin, never from arguments)',
  commands: {
    set: command({
      flags: { tenant: TENANT, name: NAME },
      about: ['create or replace a secret'],
      run: (f, ctx) => setSecretFromStdin(f, ctx, false),
    }),
    rotate: command({
      flags: { tenant: TENANT, name: NAME },
      about: ["replace an existing secret's value"],
      run: (f, ctx) => setSecretFromStdin(f, ctx, true),
    }),
    list: command({
      flags: { tenant: TENANT },
      about: ['names, versions and times (never values)'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ listSecrets }, { withTenant }] = await Promise.all([
          import('../../lib/secrets/secrets.js'),
          import('./with-prisma.js'),
        ]);
        const rows = await withTenant(c, f.tenant, (prisma) => listSecrets(prisma, f.tenant));
        for (const s of rows)
          io.out(
            `${s.name}\tversion ${s.version}\tkey ${s.keyId}\tupdated ${s.updatedAt.toISOString()}${s.rotatedAt ? `\trotated ${s.rotatedAt.toISOString()}` : ''}`,
          );
        io.out(`${rows.length} secret(s)`);
        return 0;
      },
    }),
    history: command({
      flags: { tenant: TENANT, name: NAME },
      about: ['when the secret was created and rotated'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ secretHistory }, { withTenant }] = await Promise.all([
          import('../../lib/secrets/secrets.js'),
          import('./with-prisma.js'),
        ]);
        const h = await withTenant(c, f.tenant, (prisma) => secretHistory(prisma, f.tenant, f.name));
        io.out(`created ${h.createdAt.toISOString()}`);
        for (const r of h.rotations)
          io.out(`rotated ${r.rotatedAt.toISOString()}: version ${r.fromVersion} -> ${r.toVersion}`);
        return 0;
      },
    }),
  },
});
