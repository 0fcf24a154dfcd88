/**
 * `bulwark backup …`: create, list, verify and restore backups from the command line,
 * and their upkeep: the restore drill, its evidence, retention (prune).
 * Long work draws a progress bar on stderr when it is a terminal. Exit 1 when a backup
 * is refused (bad part, bad manifest, failed checks) or a drill fails, 2 on bad usage.
 * The work is in backup-run.ts and backup-upkeep-run.ts, loaded only when a command runs.
 */
import { DRILL_LIST_MAX } from '../../lib/limits.js';
import { command, defineGroup } from '../command.js';

const work = () => import('./backup-run.js');
const upkeep = () => import('./backup-upkeep-run.js');

export default defineGroup({
  section: 'Backups (docs/DATA_MANAGEMENT.md)',
  commands: {
    create: command({
      flags: { kind: { type: 'string', value: 'database|objects|tenant' }, tenant: { type: 'string', value: 'ID' } },
      about: ['take a backup now (database by default; --tenant ID: one tenant); prints its id'],
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
      about: [
        'download, check and decrypt every part, pg_restore --list, every',
        'object against its SHA-256; touches no database',
      ],
      run: async (f, { config, io }) => (await work()).runBackupVerify(f, await config(), io),
    }),
    restore: command({
      flags: {
        into: { type: 'string', value: 'DB|URL' },
        'objects-into': { type: 'string', value: 'BUCKET[/PREFIX]' },
        tenant: { type: 'string', value: 'ID' },
        force: { type: 'boolean' },
        confirm: { type: 'string', value: 'DB|BUCKET' },
      },
      args: 'ID',
      about: [
        'database backup: --into an empty database, checked; --force replaces',
        'a non-empty one after a rollback backup; tenant backup (--tenant ID):',
        '--into a new scratch database, its objects only with --objects-into;',
        'objects backup: into S3_BUCKET or --objects-into BUCKET[/PREFIX];',
        '--confirm is required when BULWARK_ENV=live',
      ],
      run: async (f, { config, io }) => (await work()).runBackupRestore(f, await config(), io),
    }),
    drill: command({
      flags: {},
      about: [
        'restore the newest backup into a scratch database, check it, drop it,',
        'record the evidence; exit 1 when the drill failed',
      ],
      run: async (_f, { config, io }) => (await upkeep()).runBackupDrill(await config(), io),
    }),
    prune: command({
      flags: { 'dry-run': { type: 'boolean' } },
      about: [
        'delete backups retention (BACKUP_KEEP_*) does not keep; never',
        'the newest verified one; --dry-run lists and deletes nothing',
      ],
      run: async (f, { config, io }) =>
        (await upkeep()).runBackupPrune(await config(), io, { dryRun: f['dry-run'] === true }),
    }),
    drills: command({
      flags: { limit: { type: 'int', min: 1, max: DRILL_LIST_MAX, default: 20 } },
      about: [
        'restore drill evidence, newest first: result, backup, restore time,',
        'backup age (data a restore would lose), failed checks',
      ],
      run: async (f, { config, io }) => (await upkeep()).runBackupDrills(await config(), io, { limit: f.limit }),
    }),
  },
});
