/**
 * `bulwark backup …`: create, list, verify and restore backups from the command line.
 * Long work draws a progress bar on stderr when it is a terminal. Exit 1 when a backup
 * is refused (bad part, bad manifest, failed checks), 2 on bad usage. The work is in
 * backup-run.ts, loaded only when a command runs.
 */
import { command, defineGroup } from '../command.js';

const work = () => import('./backup-run.js');

export default defineGroup({
  section: 'Backups (docs/DATA_MANAGEMENT.md)',
  commands: {
    create: command({
      flags: { kind: { type: 'string', value: 'database|objects|tenant' }, tenant: { type: 'string', value: 'ID' } },
      about: ['take a backup now (database by default); prints its id'],
      run: async (f, { config, io }) => (await work()).runBackupCreate(f, await config(), io),
    }),
    list: command({
      flags: { all: { type: 'boolean' } },
      about: ['restorable backups: id, kind, status, size (--all: incomplete too)'],
      run: async (f, { config, io }) => (await work()).runBackupList(f, await config(), io),
    }),
    verify: command({
      flags: {},
      args: 'ID',
      about: ['download, check and decrypt every part, pg_restore --list;', 'touches no database'],
      run: async (f, { config, io }) => (await work()).runBackupVerify(f, await config(), io),
    }),
    restore: command({
      flags: {
        into: { type: 'string', value: 'DB|URL', required: true },
        force: { type: 'boolean' },
        confirm: { type: 'string', value: 'DB' },
      },
      args: 'ID',
      about: [
        'restore into an empty database and check it;',
        '--force replaces a non-empty one after a rollback backup;',
        '--confirm DB is required when BULWARK_ENV=live',
      ],
      run: async (f, { config, io }) => (await work()).runBackupRestore(f, await config(), io),
    }),
  },
});
