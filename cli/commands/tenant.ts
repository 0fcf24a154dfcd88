/** `bulwark tenant create|list`. */
import { command, defineGroup } from '../command.js';

export default defineGroup({
  section: 'Tenants',
  commands: {
    create: command({
      flags: { name: { type: 'string', value: 'NAME', required: true }, timezone: { type: 'string', value: 'TZ' } },
      about: [
        'create a tenant (settings, first admin key, audit entry);',
        'prints its id, then the admin key (shown once), one per line',
      ],
      /**
       * stdout is the tenant id, then the admin key, one per line and nothing else, as
       * `apikey create` prints its key: a script reads both with `read`. The note that the
       * key is shown once goes to stderr.
       */
      async run(f, { config, io }) {
        const c = await config();
        const [{ createTenant }, { withPrisma }] = await Promise.all([
          import('../../lib/tenants/tenants.js'),
          import('./with-prisma.js'),
        ]);
        const tenant = await withPrisma(c, (p) =>
          createTenant(p, { name: f.name, timezone: f.timezone }, { actor: { type: 'system', id: 'bulwark-cli' } }),
        );
        io.out(tenant.id);
        io.out(tenant.adminKey.key);
        io.err(
          `created tenant ${tenant.name} (${tenant.timezone}) with admin key ${tenant.adminKey.displayPrefix} (${tenant.adminKey.scopes.join(',')}), expires ${tenant.adminKey.expiresAt.toISOString()}; the key is shown once`,
        );
        return 0;
      },
    }),
    list: command({
      flags: {},
      about: ['every tenant, by name: id, name, time zone, creation time'],
      async run(_f, { config, io }) {
        const c = await config();
        const [{ listTenants }, { withPrisma }] = await Promise.all([
          import('../../lib/tenants/tenants.js'),
          import('./with-prisma.js'),
        ]);
        const rows = await withPrisma(c, (p) => listTenants(p));
        for (const t of rows) io.out(`${t.id}\t${t.name}\t${t.timezone}\tcreated ${t.createdAt.toISOString()}`);
        io.out(`${rows.length} tenant(s)`);
        return 0;
      },
    }),
  },
});
