// The backup schedule and retention variables: defaults, and each bad value named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

test('backup schedule: defaults are nightly at 01:00, drills on Sundays at 03:00, 7/4/12 kept', () => {
  const c = loadConfig({});
  assert.is(c.backupCron, '0 1 * * *');
  assert.is(c.restoreDrillCron, '0 3 * * 0');
  assert.equal(c.backupKeep, { daily: 7, weekly: 4, monthly: 12 });
  assert.ok(Object.isFrozen(c.backupKeep));
});

test('backup schedule: set values are taken, 0 turns a retention rule off', () => {
  const c = loadConfig({
    BACKUP_CRON: '30 2 * * *',
    RESTORE_DRILL_CRON: '0 4 1 * *',
    BACKUP_KEEP_DAILY: '14',
    BACKUP_KEEP_WEEKLY: '0',
    BACKUP_KEEP_MONTHLY: '36',
  });
  assert.is(c.backupCron, '30 2 * * *');
  assert.is(c.restoreDrillCron, '0 4 1 * *');
  assert.equal(c.backupKeep, { daily: 14, weekly: 0, monthly: 36 });
});

test('backup schedule: invalid crons and counts are each named in one error', () => {
  const problems = problemsOf({
    BACKUP_CRON: '0 25 * * *',
    RESTORE_DRILL_CRON: 'weekly',
    BACKUP_KEEP_DAILY: '-1',
    BACKUP_KEEP_WEEKLY: 'four',
    BACKUP_KEEP_MONTHLY: '100000',
  });
  assert.equal(problems.map((p) => p.split(':')[0]).sort(), [
    'BACKUP_CRON',
    'BACKUP_KEEP_DAILY',
    'BACKUP_KEEP_MONTHLY',
    'BACKUP_KEEP_WEEKLY',
    'RESTORE_DRILL_CRON',
  ]);
  assert.ok(
    problems.includes('BACKUP_CRON: must be a valid cron expression (5 or 6 fields), e.g. "0 * * * *"'),
    problems.join('\n'),
  );
  assert.ok(problems.includes('BACKUP_KEEP_MONTHLY: must be between 0 and 1200'), problems.join('\n'));
  // A cron of fewer than five fields is refused even when cron-parser would guess.
  assert.equal(
    problemsOf({ RESTORE_DRILL_CRON: '0 3 * *' }).map((p) => p.split(':')[0]),
    ['RESTORE_DRILL_CRON'],
  );
});

test.run();
