/**
 * `bulwark fair status`: what fair dispatch holds now, per queue (docs/decisions/0010):
 * the backlog, the tenants waiting with their parked jobs, the age of their first one,
 * their jobs in flight and whether their own limits hold them. Reads Redis only.
 */
import { command, defineGroup } from '../command.js';

export default defineGroup({
  section: 'Queues',
  commands: {
    status: command({
      flags: { top: { type: 'int', min: 1, max: 10000, default: 20 }, json: { type: 'boolean' } },
      about: [
        "each fair queue's backlog: tenants waiting, parked jobs, in flight and window,",
        'the tenants with the most parked (top 1-10000, default 20)',
      ],
      async run(f, { config, io }) {
        const c = await config();
        // The fair queues are those the worker registry's definitions declare fair.
        const [{ createRedis }, { readFairStats }, { registry }] = await Promise.all([
          import('../../lib/clients/redis.js'),
          import('../../lib/fair/status.js'),
          import('../../workers/registry.js'),
        ]);
        const redis = createRedis(c, 'bulwark-cli');
        try {
          const all = await readFairStats(redis, c.queuePrefix, new Set(registry.map((r) => r.job.queue)));
          const top = f.top ?? 20;
          for (const q of all) q.stats.tenants = q.stats.tenants.sort((a, b) => b.jobs - a.jobs).slice(0, top);
          if (f.json === true) {
            io.out(JSON.stringify(all));
            return 0;
          }
          for (const { queue, unit, stats: s } of all) {
            io.out(
              `${queue}: ${s.tenantsWaiting} tenant(s) waiting, ${s.parkedJobs} job(s) parked, oldest ${(s.oldestAgeMs / 1000).toFixed(1)} s; ` +
                `in flight ${s.inFlight} of ${s.window} ${unit}; others' longest wait ${(s.starvedWaitMs / 1000).toFixed(1)} s`,
            );
            for (const t of s.tenants)
              io.out(
                `  ${t.tenant}  parked ${t.jobs}  first waiting ${(t.headAgeMs / 1000).toFixed(1)} s  running ${t.running}${t.held ? '  held by its limits' : ''}`,
              );
          }
          return 0;
        } finally {
          await redis.quit().catch(() => redis.disconnect());
        }
      },
    }),
  },
});
