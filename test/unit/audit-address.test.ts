// auditAddress: a request's address made fit for an audit entry's `ip` (zone id
// dropped, IPv4-mapped unwrapped), or kept apart, sanitised and cut short, when it is
// no address; and the counting key of the result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auditEntryInputSchema } from '../../lib/contracts/audit.js';
import { auditAddress, auditAddressGroup, UNPARSED_ADDRESS_MAX } from '../../lib/net-address.js';

test('addresses pass as they are, IPv4-mapped in dotted form unwrapped', () => {
  assert.equal(auditAddress('203.0.113.7'), { ip: '203.0.113.7' });
  assert.equal(auditAddress('2001:db8::1'), { ip: '2001:db8::1' });
  assert.equal(auditAddress('::ffff:203.0.113.7'), { ip: '203.0.113.7' });
  assert.equal(auditAddress('::ffff:cb00:7107'), { ip: '::ffff:cb00:7107' }, 'hex form: an IPv6 address, kept whole');
});

test('a port some proxies add to X-Forwarded-For is dropped: the client is the address', () => {
  assert.equal(auditAddress('1.2.3.4:8080'), { ip: '1.2.3.4' });
  assert.equal(auditAddress('[2001:db8::1]:443'), { ip: '2001:db8::1' });
  assert.equal(auditAddress('[2001:db8::1]'), { ip: '2001:db8::1' });
  assert.equal(auditAddress('[fe80::1%eth0]:80'), { ip: 'fe80::1' });
  assert.equal(auditAddress('[::ffff:10.0.0.1]:80'), { ip: '10.0.0.1' });
  // One client reconnecting (a new source port each time) counts as one; two count apart.
  assert.is(auditAddressGroup(auditAddress('1.2.3.4:50001')), auditAddressGroup(auditAddress('1.2.3.4:50002')));
  assert.is.not(auditAddressGroup(auditAddress('1.2.3.4:1')), auditAddressGroup(auditAddress('5.6.7.8:1')));
});

test('an IPv6 zone id is dropped', () => {
  assert.equal(auditAddress('fe80::1%eth0'), { ip: 'fe80::1' });
  assert.equal(auditAddress('fe80::1%25'), { ip: 'fe80::1' });
  assert.equal(auditAddress('::ffff:10.0.0.1%lo'), { ip: '10.0.0.1' });
});

test('anything else is unparsed: printable ASCII, at most UNPARSED_ADDRESS_MAX characters', () => {
  assert.equal(auditAddress('unknown'), { unparsed: 'unknown' });
  assert.equal(auditAddress('1.2.3.4:123456'), { unparsed: '1.2.3.4:123456' }, 'no port has six digits');
  assert.equal(auditAddress('[not-an-address]:80'), { unparsed: '[not-an-address]:80' });
  assert.equal(auditAddress('10%eth0'), { unparsed: '10%eth0' }, 'a zone on a non-address is not stripped');
  assert.equal(auditAddress('a\u0000b\u00fc\u{1F600}c\n'), { unparsed: 'a?b??c?' });
  assert.is(auditAddress('y'.repeat(500)).unparsed, 'y'.repeat(UNPARSED_ADDRESS_MAX));
  assert.equal(auditAddress(''), {});
  assert.equal(auditAddress(undefined), {});
});

test('whatever arrives, the result passes the audit contract', () => {
  for (const raw of ['fe80::1%eth0', '::ffff:1.2.3.4', 'unknown', '\u0000', '1.2.3.04', '[::1]', 'x'.repeat(1000)]) {
    const a = auditAddress(raw);
    const entry = {
      tenantId: '00000000-0000-4000-8000-000000000001',
      actorType: 'system',
      action: 'security:x',
      severity: 'low',
      resourceType: 'r',
      ip: a.ip,
      metadata: a.unparsed === undefined ? null : { ipUnparsed: a.unparsed },
    };
    assert.ok(auditEntryInputSchema.safeParse(entry).success, JSON.stringify(raw));
  }
});

test('an IPv4-mapped address is unwrapped whatever the case of its hex', () => {
  assert.equal(auditAddress('::FFFF:198.51.100.9'), { ip: '198.51.100.9' });
  assert.equal(auditAddress('::Ffff:198.51.100.9'), { ip: '198.51.100.9' });
});

test('the counting key of an unparsed value is the value itself; of nothing, "-"', () => {
  assert.is(auditAddressGroup(auditAddress('fe80::1%eth0')), 'fe80::/64');
  assert.is(auditAddressGroup(auditAddress('unknown')), 'unknown');
  assert.is(auditAddressGroup(auditAddress(undefined)), '-');
});

test.run();
