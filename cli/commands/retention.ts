/** `bulwark retention run|receipts` (the work: retention-work.ts, loaded when a command runs). */
import { command, defineGroup } from '../command.js';

export default defineGroup({
  section: 'Retention and legal holds',
  commands: {
    run: command({
      flags: { 'dry-run': { type: 'boolean' }, tenant: { type: 'string', value: 'ID' }, json: { type: 'boolean' } },
      about: ['apply every TTL now (receipts, audit entries);', '--dry-run: what would go and what holds keep'],
      async run(f, { config, io }) {
        const c = await config();
        const { runRetentionRun } = await import('./retention-work.js');
        return runRetentionRun(c, io, { tenantId: f.tenant, dryRun: f['dry-run'] === true, json: f.json === true });
      },
    }),
    receipts: command({
      flags: {
        tenant: { type: 'string', value: 'ID' },
        limit: { type: 'int', min: 1, max: 10000, value: '100' },
        json: { type: 'boolean' },
      },
      about: ['receipts of past runs, newest first (limit 1-10000)'],
      async run(f, { config, io }) {
        const c = await config();
        const { runRetentionReceipts } = await import('./retention-work.js');
        return runRetentionReceipts(c, io, { tenantId: f.tenant, limit: f.limit, json: f.json === true });
      },
    }),
  },
});
