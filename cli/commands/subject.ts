/**
 * `bulwark subject …`: data subject rights (GDPR, issue 18). `export` writes everything
 * a tenant holds about one person as a bundle in the object store and prints a link to
 * it (subject-export-work.ts); `erase` removes a subject's personal data, `erasure-key`
 * prints the erasure records' public key (subject-work.ts). Each work module is loaded
 * only when its command runs.
 */
import { command, defineGroup, TENANT } from '../command.js';

/** The --subject flag every subject command takes: the person, as the tenant's data names them. */
export const SUBJECT = { type: 'string', value: 'SUBJECT', required: true } as const;

export default defineGroup({
  section: 'Data subject rights (GDPR)',
  commands: {
    export: command({
      flags: { tenant: TENANT, subject: SUBJECT, json: { type: 'boolean' } },
      about: [
        "write the subject's audit entries, alerts and objects as one bundle",
        "(tar.gz, NDJSON, manifest with SHA-256) to the tenant's prefix; prints",
        'a presigned link (PRIVACY_EXPORT_LINK_SECONDS); --subject - reads stdin',
      ],
      async run(f, { config, io, stdin }) {
        const c = await config();
        const { runSubjectExport } = await import('./subject-export-work.js');
        return runSubjectExport(c, io, { tenantId: f.tenant, subject: f.subject, json: f.json === true, stdin });
      },
    }),
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
