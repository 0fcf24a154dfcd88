/**
 * `bulwark subject …`: data subject rights (GDPR, issue 18). `export` writes everything
 * a tenant holds about one person as a bundle in the object store and prints a link to
 * it (the work: subject-export-work.ts, loaded when the command runs). A right's command is one
 * entry below (`erase` goes beside `export`), its work in a module of its own.
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
  },
});
