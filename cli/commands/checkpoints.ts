/**
 * `bulwark audit checkpoints key|generate-key`: the Ed25519 key that signs audit
 * checkpoints (docs/audit-checkpoints.md). Neither connects to anything.
 */
import { command, defineGroup } from '../command.js';

export default defineGroup({
  section: 'Audit',
  commands: {
    key: command({
      flags: {},
      about: [
        "print AUDIT_CHECKPOINT_KEY's public key (PEM) on stdout, its id and raw",
        'base64 form on stderr: what a third party checks checkpoints with',
      ],
      async run(_f, { config, io }) {
        const c = await config();
        const [{ checkpointKeys, publicKeyPem }, { ConfigError }] = await Promise.all([
          import('../../lib/checkpoints/keys.js'),
          import('../../lib/errors.js'),
        ]);
        const { signer } = checkpointKeys(c);
        if (!signer)
          throw new ConfigError([
            {
              path: 'AUDIT_CHECKPOINT_KEY',
              message: 'is not set; make one with `bulwark audit checkpoints generate-key`',
            },
          ]);
        io.out(publicKeyPem(signer.publicKey).trimEnd());
        io.err(`key id ${signer.publicKey.id}; raw public key (base64) ${signer.publicKey.raw.toString('base64')}`);
        return 0;
      },
    }),
    'generate-key': command({
      flags: {},
      about: ['print a new private key for AUDIT_CHECKPOINT_KEY (keep it secret)'],
      async run(_f, { io }) {
        const { generateSigningKey, parseSigningKey } = await import('../../lib/checkpoints/keys.js');
        const key = generateSigningKey();
        io.out(key);
        io.err(
          `its key id is ${parseSigningKey(key).publicKey.id}; when it replaces a key, add the old public key ` +
            '(`bulwark audit checkpoints key` before the change) to AUDIT_CHECKPOINT_PUBLIC_KEYS',
        );
        return 0;
      },
    }),
  },
});
