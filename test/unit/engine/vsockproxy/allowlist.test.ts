import * as assert from 'node:assert/strict';
import {
  MAX_ALLOWLIST_BYTES,
  checkAllowlist,
  formatVerdict,
  ipKey,
  parseAllowlist,
  type AllowlistVerdict,
  type HostResolver,
  type IpFamily,
} from '../../../../src/engine/vsockproxy/allowlist';

/**
 * A DNS of its own: names to addresses (IPv4 first, as the real tool's resolver answers); IP
 * literals resolve to themselves.
 */
function fakeDns(names: Record<string, readonly string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (host: string, _family: IpFamily) => {
    asked.push(host);
    if (ipKey(host) !== undefined) return [host];
    const found = names[host.toLowerCase()];
    if (!found) throw new Error(`${host}: no such host`);
    return found;
  };
  return Object.assign(resolve, { asked });
}

const SHIPPED = [
  'allowlist:',
  '- {address: kms.us-east-2.amazonaws.com, port: 443}',
  '- {address: kms-fips.us-east-2.amazonaws.com, port: 443}',
  '- {address: kms.us-east-1.amazonaws.com, port: 443}',
  '',
].join('\n');

const DNS = fakeDns({
  'kms.us-east-1.amazonaws.com': ['52.46.0.1', '52.46.0.2'],
  'kms.us-east-2.amazonaws.com': ['52.95.0.1'],
  'kms-fips.us-east-2.amazonaws.com': ['52.95.0.9'],
  'kms-vpce.internal': ['10.0.0.7'],
  localhost: ['127.0.0.1', '::1'],
  'v6only.test': ['2001:db8::7'],
  'dual.test': ['192.0.2.5', '2001:db8::5'],
});

async function check(
  text: string,
  remoteAddr: string,
  remotePort: number,
  family: IpFamily = 0,
  resolve: HostResolver = DNS,
): Promise<AllowlistVerdict> {
  return checkAllowlist({ allowlist: parseAllowlist(text), remoteAddr, remotePort, family, resolve });
}

const whys = (v: AllowlistVerdict) => v.tried.map((t) => `${t.entry.number}: ${t.why}`);

describe('(unit) vsock-proxy allowlist: reading the file', () => {
  it('reads the shipped file: every entry with its line, no diagnostics', () => {
    const parsed = parseAllowlist(SHIPPED);
    assert.deepEqual(parsed.diagnostics, []);
    assert.deepEqual(
      parsed.entries?.map((e) => [e.number, e.line, e.address, e.port]),
      [
        [1, 2, 'kms.us-east-2.amazonaws.com', 443],
        [2, 3, 'kms-fips.us-east-2.amazonaws.com', 443],
        [3, 4, 'kms.us-east-1.amazonaws.com', 443],
      ],
    );
  });

  it('reads block style, IPv6 addresses written plain or quoted, hex and octal ports, and aliases', () => {
    const text = [
      'defaults: &kms {address: kms.us-east-1.amazonaws.com, port: 443}',
      'allowlist:',
      '- address: ::1',
      '  port: 0x1bb',
      "- {address: '2001:db8::5', port: 0o673}",
      '- *kms',
      '',
    ].join('\n');
    const parsed = parseAllowlist(text);
    assert.deepEqual(parsed.diagnostics, []);
    assert.deepEqual(
      parsed.entries?.map((e) => [e.address, e.port]),
      [
        ['::1', 443],
        ['2001:db8::5', 443],
        ['kms.us-east-1.amazonaws.com', 443],
      ],
    );
  });

  it('locates each problem at its line and column', () => {
    const text = [
      'allowlist:', // 1
      '- {address: a.test, port: "443"}', // 2: a quoted port is a string
      '- {port: 443}', // 3: no address
      '- {address: b.test}', // 4: no port
      '- {address: c.test, port: 70000}', // 5: out of range
      '- {address: d.test, port: 443.0}', // 6: a float
      '- {Address: e.test, port: 443}', // 7: key case
      '- {address: [::1], port: 443}', // 8: brackets make a list
      '- kms.us-east-1.amazonaws.com:443', // 9: not a mapping
      '- {address: f.test, port: 443, comment: x}', // 10: unknown key (ignored)
      '- {address: f.test, port: 443}', // 11: duplicate of 10
      '- {address: g.test:443, port: 443}', // 12: the port in the address
      '',
    ].join('\n');
    const d = parseAllowlist(text).diagnostics.map((x) => [x.line, x.column, x.severity, x.message]);
    const find = (line: number, re: RegExp) => {
      const hit = d.find(([l, , , m]) => l === line && re.test(String(m)));
      assert.ok(hit, `line ${line} ${re}: ${JSON.stringify(d)}`);
      return hit;
    };
    assert.deepEqual(find(2, /port must be a whole number, not the string "443" \(write it without quotes\)/), [
      2,
      27,
      'error',
      'port must be a whole number, not the string "443" (write it without quotes)',
    ]);
    find(3, /entry 2 has no address/);
    find(4, /entry 3 has no port/);
    find(5, /port 70000 is not 0 to 65535 \(vsock-proxy would read it as 4464\)/);
    find(6, /port must be a whole number, not 443\.0/);
    assert.equal(find(7, /unknown key 'Address'.*case-sensitive/)?.[2], 'warning');
    find(7, /entry 6 has no address/);
    find(8, /address must be a host name or IP address, not a list \(an IPv6 address .*'::1'\)/);
    find(9, /entry 8 must be a mapping/);
    assert.equal(find(10, /unknown key 'comment'/)?.[2], 'warning');
    assert.equal(find(11, /duplicate of entry 9/)?.[2], 'warning');
    find(12, /the port goes in its own `port:` key/);
  });

  it('refuses what vsock-proxy cannot read: bad YAML, no allowlist, an empty file; warns of extra documents', () => {
    const bad = parseAllowlist('allowlist:\n- {address: a.test, port: 443\n');
    assert.equal(bad.entries, undefined);
    assert.match(bad.fatal ?? '', /^Bad yaml format/);
    assert.equal(bad.diagnostics[0]?.severity, 'error');
    assert.equal(bad.diagnostics[0]?.line, 3);
    for (const text of [
      'allow_list:\n- {address: a.test, port: 443}\n',
      '- {address: a.test, port: 443}\n',
      'nothing: here\n',
    ]) {
      const p = parseAllowlist(text);
      assert.equal(p.fatal, 'No allowlist field', text);
      assert.match(p.diagnostics[0]?.message ?? '', /no `allowlist:` key/);
    }
    assert.equal(parseAllowlist('allowlist: kms.test\n').fatal, 'No allowlist field');
    // No document at all (the real tool indexes the first and fails): empty, or comments only.
    for (const text of ['', '# nothing\n', '\n\n']) assert.match(parseAllowlist(text).fatal ?? '', /empty/);
    const two = parseAllowlist('allowlist: []\n---\nallowlist:\n- {address: a.test, port: 443}\n');
    assert.deepEqual(two.entries, []);
    assert.deepEqual(
      two.diagnostics.map((x) => [x.line, x.severity]),
      [
        [1, 'warning'],
        [2, 'warning'],
      ],
    );
    assert.match(two.diagnostics[1]?.message ?? '', /only the first YAML document/);
    const dup = parseAllowlist('allowlist: []\nallowlist:\n- {address: a.test, port: 443, port: 80}\n');
    assert.ok(dup.diagnostics.some((x) => x.line === 2 && /duplicate key 'allowlist'/.test(x.message)));
    assert.ok(dup.diagnostics.some((x) => x.line === 3 && /duplicate key 'port'/.test(x.message)));
    assert.deepEqual(
      dup.entries?.map((e) => e.port),
      [80],
      'the last value counts',
    );
  });

  it('is not undone by hostile YAML: a huge file, an alias bomb, deep nesting', () => {
    const huge = 'allowlist:\n' + '- {address: kms.us-east-1.amazonaws.com, port: 443}\n'.repeat(6000);
    assert.ok(huge.length > MAX_ALLOWLIST_BYTES);
    const h = parseAllowlist(huge);
    assert.equal(h.entries, undefined);
    assert.match(h.diagnostics[0]?.message ?? '', /larger than 262144 characters/);

    // A billion laughs: every level names the one before nine times; read without expanding.
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${new Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const bomb = parseAllowlist(`${levels.join('\n')}\nallowlist:\n- *l\n- {address: x.test, port: 443}\n`);
    assert.equal(bomb.entries?.length, 2);
    assert.match(bomb.diagnostics.find((x) => x.line === 14)?.message ?? '', /entry 1 must be a mapping .* not a list/);

    for (const deep of [
      `allowlist: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
      `allowlist:\n${'- '.repeat(20_000)}x\n`,
    ]) {
      const p = parseAllowlist(deep);
      assert.equal(p.entries === undefined || p.diagnostics.length > 0, true);
      assert.ok(p.diagnostics.length > 0, 'deep nesting is reported');
    }
    assert.match(
      parseAllowlist(`allowlist: ${'['.repeat(100_000)}\n`).diagnostics[0]?.message ?? '',
      /nest more than 64/,
    );
  });
});

describe('(unit) vsock-proxy allowlist: matching, in the real order', () => {
  it('matches by exact host name first, without resolving the entry', async () => {
    const dns = fakeDns({ 'kms.us-east-1.amazonaws.com': ['52.46.0.1'] });
    const v = await check(SHIPPED, 'kms.us-east-1.amazonaws.com', 443, 0, dns);
    assert.ok(v.allowed);
    assert.equal(v.entry.number, 3);
    assert.equal(v.by, 'host name');
    assert.equal(v.remoteIp, '52.46.0.1');
    // The remote is resolved (first, as the real tool does); entries 1 and 2 are resolved and differ.
    assert.deepEqual(dns.asked, [
      'kms.us-east-1.amazonaws.com',
      'kms.us-east-2.amazonaws.com',
      'kms-fips.us-east-2.amazonaws.com',
    ]);
    assert.equal(v.tried.length, 2);
    assert.equal(
      formatVerdict(v, 'kms.us-east-1.amazonaws.com', 443),
      'kms.us-east-1.amazonaws.com port 443 is allowed by entry 3 (line 4, kms.us-east-1.amazonaws.com port 443), ' +
        'by its host name\n',
    );
  });

  it('skips an entry on another port without resolving it', async () => {
    const dns = fakeDns({ 'a.test': ['10.0.0.1'] });
    const v = await check('allowlist:\n- {address: a.test, port: 8443}\n', 'a.test', 443, 0, dns);
    assert.ok(!v.allowed);
    assert.deepEqual(whys(v), ['1: port 8443 is not 443']);
    assert.deepEqual(dns.asked, ['a.test'], 'only the remote was resolved');
    assert.equal(v.realReason, 'The given address and port are not allowed');
  });

  it('matches by resolved address: an IP given for an allowlisted name, a name for an allowlisted IP', async () => {
    const byIp = await check(SHIPPED, '52.46.0.2', 443);
    assert.ok(byIp.allowed);
    assert.equal(byIp.by, 'address');
    assert.equal(byIp.entry.address, 'kms.us-east-1.amazonaws.com');
    const byName = await check('allowlist:\n- {address: 10.0.0.7, port: 443}\n', 'kms-vpce.internal', 443);
    assert.ok(byName.allowed);
    assert.equal(byName.by, 'address');
    assert.equal(byName.remoteIp, '10.0.0.7');
    // IPv6 written two ways is one address.
    const v6 = await check("allowlist:\n- {address: '2001:db8:0:0::7', port: 443}\n", 'v6only.test', 443);
    assert.ok(v6.allowed);
  });

  it('compares host names exactly: letter case differs, but the resolved addresses still match', async () => {
    const v = await check(
      'allowlist:\n- {address: KMS.us-east-1.amazonaws.com, port: 443}\n',
      'kms.us-east-1.amazonaws.com',
      443,
    );
    assert.ok(v.allowed);
    assert.equal(v.by, 'address');
  });

  it('refuses naming each entry and why: wrong port, resolved elsewhere, does not resolve', async () => {
    const text = [
      'allowlist:',
      '- {address: kms.us-east-1.amazonaws.com, port: 80}',
      '- {address: kms.us-east-2.amazonaws.com, port: 443}',
      '- {address: gone.test, port: 443}',
      '',
    ].join('\n');
    const v = await check(text, 'localhost', 443);
    assert.ok(!v.allowed);
    assert.equal(v.remoteIp, '127.0.0.1');
    assert.deepEqual(whys(v), [
      '1: port 80 is not 443',
      '2: host name kms.us-east-2.amazonaws.com is not localhost, ' +
        "and it resolves to 52.95.0.1, not 127.0.0.1 (localhost's first address)",
      '3: host name gone.test is not localhost, and gone.test: it does not resolve (gone.test: no such host)',
    ]);
    const text2 = formatVerdict(v, 'localhost', 443);
    assert.match(text2, /^localhost port 443 is not allowed: no entry of the allowlist allows localhost port 443\.\n/);
    assert.match(text2, /\n {2}entry 2 \(line 3, kms\.us-east-2\.amazonaws\.com port 443\): host name/);
    assert.match(text2, /the real vsock-proxy says only: The given address and port are not allowed/);
  });

  it('compares only the first address of the remote, as the real tool does', async () => {
    // kms.us-east-1 resolves to .1 then .2; an entry allowing only .2 does not let it through.
    const v = await check('allowlist:\n- {address: 52.46.0.2, port: 443}\n', 'kms.us-east-1.amazonaws.com', 443);
    assert.ok(!v.allowed);
    assert.match(
      whys(v)[0] ?? '',
      /resolves to 52\.46\.0\.2, not 52\.46\.0\.1 \(kms\.us-east-1\.amazonaws\.com's first address\)/,
    );
  });

  it('honours -4 and -6: the remote and each entry are taken in the asked IP version only', async () => {
    const text = "allowlist:\n- {address: dual.test, port: 443}\n- {address: '::1', port: 443}\n";
    const v4 = await check(text, 'dual.test', 443, 4);
    assert.ok(v4.allowed && v4.remoteIp === '192.0.2.5');
    const v6 = await check(text, 'dual.test', 443, 6);
    assert.ok(v6.allowed && v6.remoteIp === '2001:db8::5');
    const loop6 = await check(text, '::1', 443, 6);
    assert.ok(loop6.allowed && loop6.entry.number === 2);
    // An IPv4 literal with -6: the remote has no IPv6 address, so nothing is tried.
    const refused = await check(text, '127.0.0.1', 443, 6);
    assert.ok(!refused.allowed);
    assert.deepEqual(refused.tried, []);
    assert.match(refused.reason, /127\.0\.0\.1: it resolves to 127\.0\.0\.1, no IPv6 address \(-6 asks for one\)/);
    assert.equal(refused.realReason, 'No accepted IP was found.');
    // With -4, an entry that has only IPv6 addresses cannot match.
    const only6 = await check('allowlist:\n- {address: v6only.test, port: 443}\n', '192.0.2.5', 443, 4);
    assert.ok(!only6.allowed);
    assert.match(whys(only6)[0] ?? '', /v6only\.test: it resolves to 2001:db8::7, no IPv4 address \(-4 asks for one\)/);
  });

  it('refuses when the remote does not resolve, before reading any entry', async () => {
    const v = await check(SHIPPED, 'nowhere.test', 443);
    assert.ok(!v.allowed);
    assert.deepEqual(v.tried, []);
    assert.match(v.reason, /nowhere\.test: it does not resolve/);
  });

  it('stops at an unreadable entry before the match, as vsock-proxy does, but not at one after it', async () => {
    const before = await check(
      'allowlist:\n- {address: x.test, port: "443"}\n- {address: localhost, port: 443}\n',
      'localhost',
      443,
    );
    assert.ok(!before.allowed);
    assert.deepEqual(whys(before), [
      '1: its port is the string "443", not a whole number ' +
        '(vsock-proxy: "No port field or invalid type"); vsock-proxy stops checking here',
    ]);
    assert.equal(before.realReason, 'No port field or invalid type');
    const after = await check('allowlist:\n- {address: localhost, port: 443}\n- {port: 443}\n', 'localhost', 443);
    assert.ok(after.allowed);
  });

  it('matches a port the way vsock-proxy reads it (as 16 bits), and says so', async () => {
    const v = await check('allowlist:\n- {address: localhost, port: 66979}\n', 'localhost', 443);
    assert.ok(!v.allowed);
    assert.deepEqual(whys(v), ['1: port 1443 (written 66979) is not 443']);
    const wrapped = await check('allowlist:\n- {address: localhost, port: 65979}\n', 'localhost', 443);
    assert.ok(wrapped.allowed, 'vsock-proxy would let it through, so the emulated one does too');
  });

  it('refuses a file vsock-proxy cannot read, with its reason', async () => {
    const v = await check('nothing: here\n', 'localhost', 443);
    assert.ok(!v.allowed);
    assert.equal(v.realReason, 'No allowlist field');
  });

  it('keys IP literals as Rust compares them', () => {
    assert.equal(ipKey('::1'), ipKey('0:0:0:0:0:0:0:1'));
    assert.equal(ipKey('::ffff:1.2.3.4'), ipKey('::ffff:102:304'));
    assert.notEqual(ipKey('::ffff:1.2.3.4'), ipKey('1.2.3.4'));
    for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', ':::', 'host', '1:2:3:4:5:6:7:8:9', ''])
      assert.equal(ipKey(bad), undefined, bad);
  });
});
