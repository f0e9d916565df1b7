import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const SIGNED = repoPath('test/fixtures/eif/synthetic-v4-signed.eif');
const UNSIGNED = repoPath('test/fixtures/eif/synthetic-v4-unsigned.eif');
const PROD_DOC = repoPath('test/fixtures/attestation/base-2024-11-30.cbor');
const ROLE = 'arn:aws:iam::123456789012:role/parent';
const KEY0 = 'kms:RecipientAttestation:ImageSha384';

describe('(unit) nitro-dev kms policy, lint and dry-run', function () {
  this.timeout(120_000);
  let dir: string;
  let env: Record<string, string>;
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, cwd: dir });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const write = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return name;
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-kms-cli-'));
    env = { PATH: process.env.PATH ?? '', NITRO_DEV_STATE_DIR: path.join(dir, 'state'), HOME: dir };
  });

  after(() => {
    run('terminate-enclave', '--all');
    rmSync(dir, { recursive: true, force: true });
  });

  it('kms policy prints a policy with the PCRs describe-eif reports for the same image', () => {
    for (const eif of [SIGNED, UNSIGNED]) {
      const described = JSON.parse(run('describe-eif', '--eif-path', eif).stdout).Measurements;
      const r = run('kms', 'policy', '--eif-path', eif, '--role-arn', ROLE);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      const policy = JSON.parse(r.stdout);
      const cond = policy.Statement[1].Condition.StringEqualsIgnoreCase;
      assert.equal(cond[KEY0], described.PCR0);
      assert.equal(cond['kms:RecipientAttestation:PCR1'], described.PCR1);
      assert.equal(cond['kms:RecipientAttestation:PCR2'], described.PCR2);
      assert.equal(cond['kms:RecipientAttestation:PCR8'], described.PCR8);
      assert.match(cond['kms:RecipientAttestation:PCR3'], /^[0-9a-f]{96}$/);
      assert.deepEqual(policy.Statement[1].Principal, { AWS: ROLE });
      assert.equal(policy.Statement[0].Principal.AWS, 'arn:aws:iam::123456789012:root');
    }
  });

  it('kms policy without a role or account says to fill in the account; --account fills it', () => {
    const bare = run('kms', 'policy', '--eif-path', SIGNED);
    assert.equal(bare.status, 0, bare.stderr);
    assert.match(bare.stderr, /replace <account-id>/);
    assert.equal(JSON.parse(bare.stdout).Statement[1].Principal.AWS, 'arn:aws:iam::<account-id>:root');
    const acct = run('kms', 'policy', '--eif-path', SIGNED, '--account', '111122223333', '--operation', 'Decrypt');
    assert.equal(acct.status, 0, acct.stderr);
    assert.deepEqual(JSON.parse(acct.stdout).Statement[1].Action, ['kms:Decrypt']);
  });

  it('kms policy: bad arguments exit 2, an unreadable image exits 1 with a plain error', () => {
    const role = run('kms', 'policy', '--eif-path', SIGNED, '--role-arn', 'parent');
    assert.equal(role.status, 2);
    assert.match(role.stderr, /role ARN must look like/);
    assert.equal(run('kms', 'policy').status, 2);
    assert.equal(run('kms', 'policy', '--eif-path', SIGNED, '--json').status, 2);
    assert.equal(run('kms', 'frobnicate').status, 2);
    const missing = run('kms', 'policy', '--eif-path', 'missing.eif');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^nitro-dev: error: .*missing\.eif/);
  });

  it('kms lint: exit 0 on the generated policy, 1 with findings (path and line:col), --json, 2 on usage', () => {
    const clean = write('clean.json', run('kms', 'policy', '--eif-path', SIGNED, '--role-arn', ROLE).stdout);
    const ok = run('kms', 'lint', clean);
    assert.equal(ok.status, 0, ok.stdout);
    assert.equal(ok.stdout, 'clean.json: no findings\n');

    const policy = JSON.parse(readFileSync(path.join(dir, clean), 'utf8'));
    policy.Statement[1].Condition.StringEqualsIgnoreCase[KEY0] = '0'.repeat(96);
    policy.Statement.push({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:*', Resource: '*' });
    const text = JSON.stringify(policy, null, 2);
    const bad = write('bad.json', text);
    const r = run('kms', 'lint', bad);
    assert.equal(r.status, 1);
    const zeroLine = text.split('\n').findIndex((l) => l.includes(KEY0)) + 1;
    const zeroCol = (text.split('\n')[zeroLine - 1] as string).indexOf('"') + 1;
    assert.ok(r.stdout.includes(`bad.json:${zeroLine}:${zeroCol}: error: ${KEY0} is all zeros`), r.stdout);
    assert.match(
      r.stdout,
      /at Statement\[1\]\.Condition\.StringEqualsIgnoreCase\["kms:RecipientAttestation:ImageSha384"\]/,
    );
    assert.match(
      r.stdout,
      /bad\.json:\d+:5: error: this statement allows kms:Decrypt.*\[unattested-grant\]\n {4}at Statement\[2\]\n/,
    );
    assert.match(r.stdout, /bad\.json: 2 error\(s\), 0 warning\(s\)\n$/);

    const json = run('kms', 'lint', '--json', bad);
    assert.equal(json.status, 1);
    const out = JSON.parse(json.stdout);
    assert.equal(out.file, 'bad.json');
    assert.deepEqual(
      out.findings.map((f: { rule: string; path: string }) => [f.rule, f.path]),
      [
        ['zero-pcr', 'Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:ImageSha384"]'],
        ['unattested-grant', 'Statement[2]'],
      ],
    );

    const broken = run('kms', 'lint', write('broken.json', '{\n  "Statement": [\n}'));
    assert.equal(broken.status, 1);
    assert.match(
      broken.stdout,
      /^broken\.json:3:1: error: not JSON: expected a JSON value, found '}' \[json\]\n {4}at \$\n/,
    );

    assert.equal(run('kms', 'lint').status, 2);
    assert.equal(run('kms', 'lint', clean, 'extra').status, 2);
    assert.equal(run('kms', 'lint', clean, '--eif-path', SIGNED).status, 2);
    const missing = run('kms', 'lint', 'nope.json');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^nitro-dev: error: /);
    const huge = run('kms', 'lint', write('huge.json', ' '.repeat(200_000)));
    assert.equal(huge.status, 1);
    assert.match(huge.stderr, /too large for a key policy, so it was not read/);
  });

  it('kms dry-run on a real AWS document: allow (exit 0) when its PCRs are pinned, deny (exit 1) otherwise', () => {
    const expected = JSON.parse(readFileSync(repoPath('test/fixtures/attestation/expected.json'), 'utf8'));
    const pcrs = expected.documents.find((d: { file: string }) => d.file === 'base-2024-11-30.cbor').pcrs;
    const pinned = write(
      'pinned.json',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: ROLE },
            Action: 'kms:Decrypt',
            Resource: '*',
            Condition: { StringEqualsIgnoreCase: { [KEY0]: pcrs['0'], 'kms:RecipientAttestation:PCR2': pcrs['2'] } },
          },
        ],
      }),
    );
    const allow = run('kms', 'dry-run', '--policy', pinned, '--document', PROD_DOC, '--principal', ROLE);
    assert.equal(allow.status, 0, allow.stdout + allow.stderr);
    assert.match(allow.stdout, /^Decision: ALLOW \(kms:Decrypt\)\n/);
    assert.match(allow.stdout, /attestation part of KMS authorization only/);

    const imagePolicy = write('image.json', run('kms', 'policy', '--eif-path', SIGNED, '--role-arn', ROLE).stdout);
    const deny = run('kms', 'dry-run', '--policy', imagePolicy, '--document', PROD_DOC, '--principal', ROLE, '--json');
    assert.equal(deny.status, 1);
    const result = JSON.parse(deny.stdout);
    assert.equal(result.decision, 'deny');
    assert.ok(result.reasons.some((x: string) => /ImageSha384 fails/.test(x)));

    const noDoc = run('kms', 'dry-run', '--policy', pinned);
    assert.equal(noDoc.status, 1);
    assert.match(noDoc.stdout, /no attestation document in the request/);

    assert.equal(run('kms', 'dry-run', '--document', PROD_DOC).status, 2);
    assert.equal(run('kms', 'dry-run', '--policy', pinned, '--operation', 'rm -rf').status, 2);
    const notDoc = run('kms', 'dry-run', '--policy', pinned, '--document', pinned);
    assert.equal(notDoc.status, 1);
    assert.match(notDoc.stderr, /^nitro-dev: error: /);
    const badPolicy = run(
      'kms',
      'dry-run',
      '--policy',
      write('bad-policy.json', '{"Statement": ['),
      '--document',
      PROD_DOC,
    );
    assert.equal(badPolicy.status, 1);
    assert.match(badPolicy.stderr, /bad-policy\.json:1:16: not JSON/);
  });

  it('the policy generated from an image lets its emulated enclave through, and not in debug mode', () => {
    const policy = write(
      'emulated.json',
      run('kms', 'policy', '--eif-path', SIGNED, '--account', '111122223333').stdout,
    );
    for (const [debug, status, decision] of [
      [false, 0, 'ALLOW'],
      [true, 1, 'DENY'],
    ] as const) {
      const name = debug ? 'kms-debug' : 'kms-prod';
      const started = run(
        'run-enclave',
        '--eif-path',
        SIGNED,
        '--memory',
        '64',
        '--cpu-count',
        '2',
        '--enclave-name',
        name,
        ...(debug ? ['--debug-mode'] : []),
      );
      assert.equal(started.status, 0, started.stderr);
      const id = JSON.parse(started.stdout).EnclaveID as string;
      const doc = `${name}.cbor`;
      const attested = run('attest', '--enclave-id', id, '--output', doc);
      assert.equal(attested.status, 0, attested.stderr);
      const r = run('kms', 'dry-run', '--policy', policy, '--document', doc);
      assert.equal(r.status, status, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^Decision: ${decision}`));
      if (debug) assert.match(r.stdout, /all zeros: debug mode/);
      run('terminate-enclave', '--enclave-id', id);
    }
  });
});
