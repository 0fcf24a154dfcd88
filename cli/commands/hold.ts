/** `bulwark hold add|list|release`: legal holds (the work: hold-work.ts, loaded when a command runs). */
import { UsageError, command, defineGroup, TENANT } from '../command.js';

export default defineGroup({
  section: 'Retention and legal holds',
  commands: {
    add: command({
      flags: {
        tenant: TENANT,
        all: { type: 'boolean' },
        actor: { type: 'string', value: 'ID' },
        resource: { type: 'string', value: 'TYPE:ID' },
        prefix: { type: 'string', value: 'KEY_PREFIX' },
        reason: { type: 'string', value: 'TEXT', required: true },
        until: { type: 'string', value: 'DATE' },
      },
      about: [
        'keep what the hold covers from retention (one of --all, --actor,',
        '--resource, --prefix); prints its id',
      ],
      async run(f, { config, io }) {
        const c = await config();
        const { runHoldAdd } = await import('./hold-work.js');
        return runHoldAdd(c, io, {
          tenantId: f.tenant,
          all: f.all === true,
          actor: f.actor,
          resource: f.resource,
          prefix: f.prefix,
          reason: f.reason,
          until: f.until,
        });
      },
    }),
    list: command({
      flags: { tenant: { type: 'string', value: 'ID' }, released: { type: 'boolean' } },
      about: ['active holds (--released: with released ones)'],
      async run(f, { config, io }) {
        const c = await config();
        const { runHoldList } = await import('./hold-work.js');
        return runHoldList(c, io, { tenantId: f.tenant, released: f.released === true });
      },
    }),
    release: command({
      flags: { reason: { type: 'string', value: 'TEXT', required: true } },
      args: 'ID',
      about: ['release a hold; its row stays as history'],
      async run(f, { config, io }) {
        if (f._.length !== 1) throw new UsageError('hold release takes one hold id', 'hold release');
        const c = await config();
        const { runHoldRelease } = await import('./hold-work.js');
        return runHoldRelease(c, io, { id: f._[0]!, reason: f.reason });
      },
    }),
  },
});
