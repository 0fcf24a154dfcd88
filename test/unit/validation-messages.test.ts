// Validation messages reach users (HTTP 400 bodies, the CLI, the producer's
// ValidationError, configuration errors) in the project's words: zod's defaults ("Too
// small: expected number to be >=1", "Invalid input: expected string, received number")
// are rephrased by issueMessage, and a schema's own message passes through unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { channelInputSchema } from '../../lib/alerts/channels.js';
import { loadConfig } from '../../lib/config.js';
import { alertInputSchema } from '../../lib/contracts/alert.js';
import { auditEntryInputSchema } from '../../lib/contracts/audit.js';
import type { ZodType } from 'zod';
import { ConfigError, problemsFromZod, type FieldProblem } from '../../lib/errors.js';
import { tenantSettingsSchema } from '../../lib/tenants/settings.js';

/** zod's English defaults, as its locale words them. */
const ZOD_WORDING =
  /Too (small|big):|Invalid (input|option|string|number)|expected \w+, received|Unrecognized key|Invalid key in|>=|<=/;

function problems(schema: ZodType, value: unknown): FieldProblem[] {
  const r = schema.safeParse(value);
  assert.ok(!r.success, `${JSON.stringify(value)} is refused`);
  return problemsFromZod(r.error!.issues);
}
const at = (list: FieldProblem[], path: string) => list.find((p) => p.path === path)?.message;

test('a number out of range, a wrong type, a missing field, an unknown option: in our words', () => {
  const settings = problems(tenantSettingsSchema, {
    alerts: { maxPerWindow: 0, windowSeconds: 1.5, cooldownSeconds: 'soon' },
    api: { requestsPerWindow: 10_000_000 },
  });
  assert.is(at(settings, 'alerts.maxPerWindow'), 'must be at least 1');
  assert.is(at(settings, 'alerts.windowSeconds'), 'must be a whole number');
  assert.is(at(settings, 'alerts.cooldownSeconds'), 'must be a number');
  assert.is(at(settings, 'api.requestsPerWindow'), 'must be at most 1000000');

  const audit = problems(auditEntryInputSchema, { actorType: 'user', actorId: 5, resourceType: 'task' });
  assert.is(at(audit, 'actorId'), 'must be a string');
  assert.is(at(audit, 'action'), 'is required');

  const alert = problems(alertInputSchema, { type: 'x', severity: 'high', title: 't', labels: 5 });
  assert.is(at(alert, 'labels'), 'must be an object');

  const channel = problems(channelInputSchema, {
    tenantId: '00000000-0000-4000-8000-000000000000',
    name: 'ops',
    type: 'webhook',
    target: `https://x.example/${'a'.repeat(2100)}`,
    secretRef: 'secret://hook',
    severities: [],
  });
  assert.is(at(channel, 'target'), 'must be at most 2048 characters');
  assert.is(at(channel, 'severities'), 'must not be empty');
  for (const list of [settings, audit, alert, channel])
    for (const p of list) assert.not.match(p.message, ZOD_WORDING, `${p.path}: ${p.message}`);
});

test("a schema's own message is kept as written", () => {
  const audit = problems(auditEntryInputSchema, { actorType: 'robot', action: 'x', resourceType: 'task' });
  assert.is(at(audit, 'actorType'), 'must be one of user, service, ai, system');
  const settings = problems(tenantSettingsSchema, { alerts: { quietHours: { start: '25:00' } } });
  assert.is(at(settings, 'alerts.quietHours.start'), 'must be HH:MM');
});

test('configuration errors name the variable in our words, never its value', () => {
  const name = `op-${'x'.repeat(70)}`;
  try {
    loadConfig({ OPERATOR_USERNAME: name, OPERATOR_PASSWORD: 'operator-password-123', HOST: ' ' });
    assert.unreachable('an operator name over 64 characters is refused');
  } catch (err) {
    assert.instance(err, ConfigError);
    const message = (err as Error).message;
    assert.match(message, 'OPERATOR_USERNAME: must be at most 64 characters');
    assert.not.match(message, ZOD_WORDING);
    assert.not.match(message, name);
  }
});

test.run();
