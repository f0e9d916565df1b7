import * as assert from 'node:assert/strict';
import { allowlistProblems, looksLikeAllowlist } from '../../../../src/extension/vsockproxy/allowlistText';

describe('(unit) vsock-proxy allowlist diagnostics: which documents, and where', () => {
  it('takes vsock-proxy*.yaml / *.yml by name, and other YAML only with a top-level allowlist key', () => {
    for (const name of ['/etc/nitro_enclaves/vsock-proxy.yaml', 'C:\\cfg\\vsock-proxy-kms.YML', 'vsock-proxy.yml'])
      assert.ok(looksLikeAllowlist(name, 'plaintext', ''), name);
    assert.ok(looksLikeAllowlist('/w/rules.yaml', 'yaml', '# rules\nallowlist:\n- {address: a, port: 1}\n'));
    assert.ok(looksLikeAllowlist('/w/untitled-1', 'yaml', "'allowlist' :\n"));
    assert.ok(
      !looksLikeAllowlist('/w/compose.yaml', 'yaml', 'services:\n  allowlist: []\n'),
      'indented: not top-level',
    );
    assert.ok(!looksLikeAllowlist('/w/notes.txt', 'plaintext', 'allowlist:\n'), 'not YAML');
    assert.ok(!looksLikeAllowlist('/w/my-vsock-proxy.yaml', 'yaml', 'a: 1\n'));
    assert.ok(!looksLikeAllowlist('/w/big.yaml', 'yaml', `allowlist:\n${'#'.repeat(300_000)}\n`), 'bounded');
  });

  it('gives 0-based ranges of at least one character', () => {
    const problems = allowlistProblems('allowlist:\n- {address: a.test, port: "443"}\n- {port: 1}\n');
    assert.deepEqual(
      problems.map((p) => [p.startLine, p.startCharacter, p.endLine, p.endCharacter, p.severity]),
      [
        [1, 26, 1, 31, 'error'],
        [2, 2, 2, 11, 'error'],
      ],
    );
    const empty = allowlistProblems('');
    assert.equal(empty.length, 1);
    assert.deepEqual([empty[0]?.startLine, empty[0]?.startCharacter, empty[0]?.endCharacter], [0, 0, 1]);
  });
});
