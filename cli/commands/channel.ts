/** `bulwark channel add|list|remove`: where a tenant's alerts are sent. */
import { command, defineGroup, TENANT } from '../command.js';

const CLI_ACTOR = { type: 'user' as const, id: 'bulwark-cli' };

export default defineGroup({
  section: 'Alert channels (credentials are secret:// references)',
  commands: {
    add: command({
      flags: {
        tenant: TENANT,
        name: { type: 'string', value: 'N', required: true },
        type: { type: 'string', value: 'webhook|slack|telegram', required: true },
        target: { type: 'string', value: 'URL|LABEL|CHAT_ID', required: true },
        secret: { type: 'string', value: 'secret://NAME', required: true },
        severities: { type: 'string', value: 'info,warning,high,critical' },
      },
      about: ['add a channel (a chat id starting with - is given as --target=-100123)'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ addChannel }, { withTenant }] = await Promise.all([
          import('../../lib/alerts/channels.js'),
          import('./with-prisma.js'),
        ]);
        const severities = f.severities
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const added = await withTenant(c, f.tenant, (p) =>
          addChannel(
            p,
            {
              tenantId: f.tenant,
              name: f.name,
              type: f.type as never,
              target: f.target,
              secretRef: f.secret,
              severities: severities as never,
            },
            CLI_ACTOR,
            {
              allowPrivateTargets: c.alertTargetsAllowPrivate,
            },
          ),
        );
        io.out(`added ${added.type} channel ${added.name} (${added.id}) for ${added.severities.join(',')}`);
        return 0;
      },
    }),
    list: command({
      flags: { tenant: TENANT },
      about: ["the tenant's channels"],
      async run(f, { config, io }) {
        const c = await config();
        const [{ listChannels }, { withTenant }] = await Promise.all([
          import('../../lib/alerts/channels.js'),
          import('./with-prisma.js'),
        ]);
        const rows = await withTenant(c, f.tenant, (p) => listChannels(p, f.tenant));
        for (const ch of rows)
          io.out(
            `${ch.name}\t${ch.type}\t${ch.target}\t${ch.secretRef}\t${ch.severities.join(',')}\t${ch.enabled ? 'enabled' : 'disabled'}`,
          );
        io.out(`${rows.length} channel(s)`);
        return 0;
      },
    }),
    remove: command({
      flags: { tenant: TENANT, name: { type: 'string', value: 'N', required: true } },
      about: ['remove a channel'],
      async run(f, { config, io }) {
        const c = await config();
        const [{ removeChannel }, { withTenant }] = await Promise.all([
          import('../../lib/alerts/channels.js'),
          import('./with-prisma.js'),
        ]);
        const removed = await withTenant(c, f.tenant, (p) => removeChannel(p, f.tenant, f.name, CLI_ACTOR));
        io.out(`removed channel ${removed.name}`);
        return 0;
      },
    }),
  },
});
