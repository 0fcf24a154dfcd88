// addressGroup: the key per-address brute-force counters use. IPv6 addresses group by
// their /64 whatever their spelling; IPv4, IPv4-mapped and NAT64 addresses stay per
// IPv4 address; anything that is not an address is its own key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addressGroup } from '../../lib/net-address.js';

test('IPv4 addresses stay per address', () => {
  assert.is(addressGroup('203.0.113.7'), '203.0.113.7');
  assert.is(addressGroup('127.0.0.1'), '127.0.0.1');
  assert.is.not(addressGroup('203.0.113.7'), addressGroup('203.0.113.8'));
});

test('IPv6: one /64 is one key, in canonical form, whatever the spelling', () => {
  const expected = '2001:db8::/64';
  for (const spelling of [
    '2001:db8::1',
    '2001:db8::',
    '2001:db8:0:0:ffff:ffff:ffff:ffff',
    '2001:0db8:0000:0000:0000:0000:0000:0001',
    '2001:DB8::ABCD:1',
    '2001:db8:0:0:1::',
    '2001:db8::c0a8:1',
    '2001:db8::192.168.0.1',
  ])
    assert.is(addressGroup(spelling), expected, spelling);
  assert.is(addressGroup('2001:db8:aaaa:bbbb:1:2:3:4'), '2001:db8:aaaa:bbbb::/64');
  assert.is(addressGroup('2001:0DB8:000A:00B0:FFFF::1'), '2001:db8:a:b0::/64');
});

test('IPv6: neighbouring /64s are different keys', () => {
  assert.is(addressGroup('2001:db8:0:1::1'), '2001:db8:0:1::/64');
  assert.is(addressGroup('2001:db8:1::1'), '2001:db8:1::/64');
  assert.is.not(addressGroup('2001:db8:0:1::1'), addressGroup('2001:db8:0:2::1'));
  // The /64 is kept whole, with no zero group shortened away from it.
  assert.is(addressGroup('2001:0:0:1::5'), '2001:0:0:1::/64');
  assert.is(addressGroup('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
  assert.is(addressGroup('::1'), '::/64');
  assert.is(addressGroup('::'), '::/64');
  assert.is(addressGroup('fd00:1:2:3:4:5:6:7'), 'fd00:1:2:3::/64');
});

test('IPv6: a zone id is dropped', () => {
  assert.is(addressGroup('fe80::1%eth0'), 'fe80::/64');
  assert.is(addressGroup('FE80::abcd:1%25'), 'fe80::/64');
  assert.is(addressGroup('fe80::1%eth0'), addressGroup('fe80::2%wlan0'));
});

test('IPv4 carried in IPv6 (mapped, NAT64) counts as that IPv4 address', () => {
  assert.is(addressGroup('::ffff:203.0.113.7'), '203.0.113.7');
  assert.is(addressGroup('::FFFF:203.0.113.7'), '203.0.113.7');
  assert.is(addressGroup('::ffff:cb00:7107'), '203.0.113.7');
  assert.is(addressGroup('0:0:0:0:0:ffff:cb00:7107'), '203.0.113.7');
  assert.is(addressGroup('0000:0000:0000:0000:0000:FFFF:203.0.113.7'), '203.0.113.7');
  assert.is.not(
    addressGroup('::ffff:203.0.113.7'),
    addressGroup('::ffff:203.0.113.8'),
    'two mapped clients are not pooled',
  );
  assert.is(addressGroup('64:ff9b::203.0.113.7'), '203.0.113.7');
  assert.is(addressGroup('64:ff9b::cb00:7108'), '203.0.113.8');
  // Only the exact prefixes carry IPv4: a neighbour of each is an ordinary IPv6 address.
  assert.is(addressGroup('::fffe:203.0.113.7'), '::/64');
  assert.is(addressGroup('64:ff9b:1::203.0.113.7'), '64:ff9b:1::/64');
});

test('not an address: returned unchanged', () => {
  for (const s of ['', 'unknown', '2001:db8::g', '1.2.3', '203.0.113.7:8080', '2001:db8::/64'])
    assert.is(addressGroup(s), s, JSON.stringify(s));
});

test.run();
