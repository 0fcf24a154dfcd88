/**
 * `bulwark subject …`: data subject rights (GDPR, issue 18). `erase` removes a subject's
 * personal data, `erasure-key` prints the erasure records' public key (the work:
 * subject-work.ts, loaded when a command runs). main's `export` goes beside them.
 */
import { command, defineGroup, TENANT } from '../command.js';

/** The --subject flag every subject command takes: the person, as the tenant's data names them. */
export const SUBJECT = { type: 'string', value: 'SUBJECT', required: true } as const;

export default defineGroup({
  section: 'Data subject rights (GDPR)',
  commands: {
    erase: command({
      flags: {
        tenant: TENANT,
        subject: SUBJECT,
        reason: { type: 'string', value: 'TEXT', required: true },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      about: [
        "erase a subject's personal data (audit log, alert ledger, objects); refused",
        'when a legal hold covers any of it; --dry-run counts only',
      ],
      async run(f, { config, io }) {
        const c = await config();
        const { runSubjectErase } = await import('./subject-work.js');
        return runSubjectErase(c, io, {
          tenantId: f.tenant,
          subject: f.subject,
          reason: f.reason,
          dryRun: f['dry-run'] === true,
          json: f.json === true,
        });
      },
    }),
    'erasure-key': command({
      flags: {},
      about: ["print ERASURE_SIGNING_KEY's public key (base64) for verifiers (ERASURE_PUBLIC_KEYS)"],
      async run(_f, { config, io }) {
        const c = await config();
        const { runErasureKey } = await import('./subject-work.js');
        return runErasureKey(c, io);
      },
    }),
  },
});
