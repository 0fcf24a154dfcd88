/** `bulwark migrate` and `bulwark start`: setting up the database and running Bulwark. */
import { command, defineGroup, UsageError } from '../command.js';

/** How long a stopped `bulwark start` waits for its process to end by itself. */
const EXIT_GRACE_MS = 1000;

export default defineGroup({
  section: 'Set-up and running',
  commands: {
    migrate: {
      flags: {},
      about: ['create the database if needed and apply pending migrations'],
      async run(_f, { config, io }) {
        const { ensureDatabase, migrate } = await import('../../lib/db/migrations.js');
        const c = await config();
        // Direct to Postgres: a pooler holds neither the runner's advisory lock nor CREATE DATABASE.
        const url = c.directDatabaseUrl;
        const urlVariable = url === c.databaseUrl ? 'DATABASE_URL' : 'DIRECT_DATABASE_URL';
        const created = await ensureDatabase(url);
        if (created) io.out(`created database ${new URL(url).pathname.slice(1)}`);
        const report = await migrate(url, { urlVariable, onApplied: (name) => io.out(`applied ${name}`) });
        io.out(
          report.applied.length === 0
            ? `database is up to date (${report.alreadyApplied} migrations applied earlier)`
            : `applied ${report.applied.length} migration(s)`,
        );
        // After the database, so a store that is down still lets the schema move on; the
        // command fails (StorageUnavailableError naming S3_ENDPOINT) and a re-run finishes.
        const { createStorage, ensureBuckets } = await import('../../lib/clients/storage.js');
        const storage = createStorage(c.storage);
        for (const bucket of await ensureBuckets(storage)) io.out(`created bucket ${bucket}`);
        io.out(`object store buckets ready (${storage.bucket}, ${storage.backupBucket})`);
        return 0;
      },
    },
    start: command({
      flags: { role: { type: 'string', value: 'ROLE' } },
      about: [
        'run workers, scheduler and the HTTP server until SIGTERM; --role api|worker|scheduler|all',
        '(default all) runs one part: the HTTP API, the workers, or the scheduler (one active across',
        'hosts, the others standing by); every role serves /healthz, /readyz and /metrics on PORT',
      ],
      /** Run until SIGTERM or SIGINT, then shut down gracefully and exit 0. */
      async run(f, { config }) {
        const { isProcessRole, PROCESS_ROLES } = await import('../../app/runtime/roles.js');
        const role = f.role ?? 'all';
        if (!isProcessRole(role))
          throw new UsageError(`--role must be one of ${PROCESS_ROLES.join(', ')}, got "${role.slice(0, 32)}"`);
        const c = await config();
        const [{ startBulwark }, { applyHeapGrowth }] = await Promise.all([
          import('../../app/main.js'),
          import('../../app/runtime/heap.js'),
        ]);
        applyHeapGrowth(c);
        const running = await startBulwark(c, { role });
        await new Promise<void>((resolve) => {
          const onSignal = (signal: NodeJS.Signals) => {
            void running.stop(`received ${signal}`).then(resolve);
          };
          process.once('SIGTERM', onSignal);
          process.once('SIGINT', onSignal);
        });
        // Everything Bulwark opened is closed, so the process ends by itself once its last
        // log lines are written. A job abandoned at the shutdown deadline may still hold a
        // socket or a timer (a send waiting on its receiver): after a short grace for those
        // writes, it must not keep the process alive past the bound.
        setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
        return 0;
      },
    }),
  },
});
