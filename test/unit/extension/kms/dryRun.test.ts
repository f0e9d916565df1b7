import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeAttestation } from '../../../../src/engine';
import { dryRunOf } from '../../../../src/extension/kms/dryRun';
import { parseDryRunBody } from '../../../../src/shared/attestationViewer';
import { repoPath } from '../../repo';

const cli = repoPath('dist/cli.js');
const DOC = repoPath('test/fixtures/attestation/base-2024-11-30.cbor');
const ROLE = 'arn:aws:iam::123456789012:role/parent';

describe('(unit) extension: the attestation panel’s dry run (Would KMS release this key?)', function () {
  this.timeout(120_000);
  let dir: string;
  const expected = JSON.parse(readFileSync(repoPath('test/fixtures/attestation/expected.json'), 'utf8'));
  const pcrs = expected.documents.find((d: { file: string }) => d.file === 'base-2024-11-30.cbor').pcrs;
  const document = decodeAttestation(readFileSync(DOC)).document;
  const policyOf = (pcr0: string) =>
    JSON.stringify(
      {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Enclave',
            Effect: 'Allow',
            Principal: { AWS: ROLE },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: '*',
            Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0 } },
          },
        ],
      },
      null,
      2,
    );

  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-dry-run-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** nitro-dev kms dry-run --json for the same policy, operation and principal. */
  function cliAnswer(policy: string, operation: string, principal?: string): unknown {
    const file = path.join(dir, 'policy.json');
    writeFileSync(file, policy);
    const args = ['kms', 'dry-run', '--policy', file, '--document', DOC, '--operation', operation, '--json'];
    if (principal !== undefined) args.push('--principal', principal);
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    return JSON.parse(r.stdout);
  }

  const cases: readonly [string, string, string, string | undefined][] = [
    ['the image pinned, Decrypt, the role', policyOf(pcrs['0']), 'Decrypt', ROLE],
    ['another image, Decrypt, the role', policyOf('ab'.repeat(48)), 'Decrypt', ROLE],
    ['the image pinned, GenerateRandom (not granted)', policyOf(pcrs['0']), 'GenerateRandom', ROLE],
    ['the image pinned, GenerateDataKey, no principal', policyOf(pcrs['0']), 'GenerateDataKey', undefined],
    ['the image pinned, another caller', policyOf(pcrs['0']), 'Decrypt', 'arn:aws:iam::999999999999:role/x'],
  ];
  for (const [what, policy, operation, principal] of cases)
    it(`gives the CLI's decision, reasons, notes and scope: ${what}`, () => {
      const body = parseDryRunBody({ policy, policyLabel: 'policy.json', operation, principal });
      assert.ok(body.ok);
      const view = dryRunOf(body.value, document);
      const { decision, reasons, notes, scope } = view;
      assert.deepEqual({ decision, reasons, notes, scope }, cliAnswer(policy, operation, principal));
      assert.equal(view.operation, operation);
      assert.equal(view.policyLabel, 'policy.json');
      assert.equal(view.principal, principal);
    });

  it('allows the pinned image and denies another, saying why', () => {
    const allow = dryRunOf({ policy: policyOf(pcrs['0']), policyLabel: 'p', operation: 'Decrypt' }, document);
    assert.equal(allow.decision, 'allow');
    const deny = dryRunOf({ policy: policyOf('ab'.repeat(48)), policyLabel: 'p', operation: 'Decrypt' }, document);
    assert.equal(deny.decision, 'deny');
    assert.ok(
      deny.reasons.some((r) => /ImageSha384 fails/.test(r)),
      deny.reasons.join('\n'),
    );
  });

  it('passes on why the document does not verify, and refuses an empty policy or one that is not JSON', () => {
    const view = dryRunOf(
      { policy: policyOf(pcrs['0']), policyLabel: 'p', operation: 'Decrypt' },
      document,
      'Invalid now',
    );
    assert.equal(view.documentInvalid, 'Invalid now');
    assert.throws(
      () => dryRunOf({ policy: '  ', policyLabel: 'p', operation: 'Decrypt' }, document),
      /Paste a key policy \(JSON\) or choose one first/,
    );
    assert.throws(
      () => dryRunOf({ policy: '{\n  "Statement": [,]\n}', policyLabel: 'kp.json', operation: 'Decrypt' }, document),
      /^Error: kp\.json:2:17: not JSON: /,
    );
  });

  it('checks the untrusted dryRun body from the webview', () => {
    const ok = parseDryRunBody({
      policy: '{}',
      policyLabel: 'x',
      principal: '  arn:aws:iam::1:root ',
      operation: 'Decrypt',
    });
    assert.deepEqual(ok, {
      ok: true,
      value: { policy: '{}', policyLabel: 'x', principal: 'arn:aws:iam::1:root', operation: 'Decrypt' },
    });
    const empty = parseDryRunBody({ policy: '{}', policyLabel: 'x', principal: ' ', operation: 'GenerateRandom' });
    assert.deepEqual(empty, { ok: true, value: { policy: '{}', policyLabel: 'x', operation: 'GenerateRandom' } });
    for (const bad of [
      null,
      { policy: 1, policyLabel: 'x', operation: 'Decrypt' },
      { policy: '{}', policyLabel: '', operation: 'Decrypt' },
      { policy: '{}', policyLabel: 'x', operation: 'Encrypt' },
      { policy: '{}', policyLabel: 'x', operation: 'rm -rf' },
      { policy: '{}', policyLabel: 'x', operation: 'Decrypt', principal: 5 },
      { policy: '{}', policyLabel: 'x', operation: 'Decrypt', principal: 'a'.repeat(2049) },
      { policy: ' '.repeat(131073), policyLabel: 'x', operation: 'Decrypt' },
    ])
      assert.equal(parseDryRunBody(bad).ok, false, JSON.stringify(bad)?.slice(0, 80));
  });
});
