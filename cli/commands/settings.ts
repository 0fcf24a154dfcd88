/** `bulwark tenant settings get|set`: a tenant's settings (lib/tenants/settings-store.ts). */
import { ValidationError } from '../../lib/errors.js';
import { command, defineGroup, TENANT } from '../command.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export default defineGroup({
  section: 'Tenants',
  commands: {
    get: command({
      flags: { tenant: TENANT },
      about: ["print the tenant's settings"],
      async run(f, { config, io }) {
        const c = await config();
        const [{ getTenantSettings }, { withTenant }] = await Promise.all([
          import('../../lib/tenants/settings-store.js'),
          import('./with-prisma.js'),
        ]);
        io.out(JSON.stringify(await withTenant(c, f.tenant, (p) => getTenantSettings(p, f.tenant)), null, 2));
        return 0;
      },
    }),
    set: command({
      flags: { tenant: TENANT },
      args: 'KEY=VALUE...',
      about: ['change settings, e.g. api.requestsPerWindow=100'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ patchFromPairs, updateTenantSettings }, { withTenant }] = await Promise.all([
          import('../../lib/tenants/settings-store.js'),
          import('./with-prisma.js'),
        ]);
        if (f._.length === 0)
          throw new ValidationError('settings', [{ path: '', message: 'give at least one KEY=VALUE' }]);
        const patch = patchFromPairs(f._);
        io.out(
          JSON.stringify(
            await withTenant(c, f.tenant, (p) => updateTenantSettings(p, f.tenant, patch, CLI_ACTOR)),
            null,
            2,
          ),
        );
        return 0;
      },
    }),
  },
});
