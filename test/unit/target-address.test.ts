// Which alert targets count as internal (SSRF guard, lib/alerts/target-address.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockedAddress, literalTargetProblem } from '../../lib/alerts/target-address.js';

test('loopback, private, link-local, CGNAT, unspecified, multicast and reserved addresses are blocked, in both families', () => {
  for (const ip of [
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '239.1.1.1', '240.0.0.1', '255.255.255.255', '192.0.2.1', '198.18.0.1',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', 'fec0::1', '::127.0.0.1', '100::1', '2001:db8::1',
    // IPv6 forms that carry an IPv4 address are judged by it.
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::10.0.0.1', '2002:7f00:1::1', '[::ffff:127.0.0.1]',
  ]) assert.ok(blockedAddress(ip), `${ip} should be blocked`);
});

test('public unicast addresses (and non-addresses) pass', () => {
  for (const ip of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', 'hooks.example'])
    assert.is(blockedAddress(ip), undefined, ip);
});

test('literalTargetProblem: literal internal hosts and localhost names, naming the variable; host names and public literals pass', () => {
  for (const url of ['http://127.0.0.1:8080/x', 'http://[::1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://169.254.169.254/latest/meta-data', 'https://10.0.0.5/x', 'http://localhost:9/x', 'http://LOCALHOST./x', 'http://a.localhost/x', 'http://0x7f000001/x', 'http://2130706433/x', 'http://127.1/x'])
    assert.match(literalTargetProblem(url) ?? '', /ALERT_TARGETS_ALLOW_PRIVATE=true/, url);
  for (const url of ['https://hooks.example/x', 'https://93.184.215.14/x', 'https://[2606:4700::1111]/x', 'not a url'])
    assert.is(literalTargetProblem(url), undefined, url);
});

test.run();
