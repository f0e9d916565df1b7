import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const layout = repoPath('test/fixtures/oci/layout');
const archive = repoPath('test/fixtures/oci/docker-save.tar');
const blobs = repoPath('test/fixtures/blobs');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('(unit) nitro-dev build-enclave', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'nitro-cli-build-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds from an OCI layout tag and prints nitro-cli Measurements JSON; describe-eif agrees', () => {
    const out = path.join(dir, 'app.eif');
    const r = run(['build-enclave', '--oci-layout', `${layout}:v1`, '--output-file', out, '--blobs', blobs, '--build-time', '2024-01-02T03:04:05Z']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^Start building the Enclave Image\.\.\.\n/);
    assert.match(r.stderr, /Enclave Image successfully created\.\n$/);
    const json = JSON.parse(r.stdout);
    assert.equal(r.stdout, `${JSON.stringify(json, null, 2)}\n`);
    assert.deepEqual(Object.keys(json), ['Measurements']);
    assert.deepEqual(Object.keys(json.Measurements), ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2']);
    const d = run(['describe-eif', '--eif-path', out]);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(JSON.parse(d.stdout).Measurements, json.Measurements);
    assert.equal(JSON.parse(d.stdout).Metadata.BuildTime, '2024-01-02T03:04:05+00:00');
  });

  it('takes NITRO_CLI_BLOBS and SOURCE_DATE_EPOCH from the environment, and builds the same bytes twice', () => {
    const a = path.join(dir, 'a.eif');
    const b = path.join(dir, 'b.eif');
    const env = { NITRO_CLI_BLOBS: blobs, SOURCE_DATE_EPOCH: '1704164645' };
    assert.equal(run(['build-enclave', '--image-archive', archive, '--output-file', a], env).status, 0);
    assert.equal(run(['build-enclave', '--image-archive', archive, '--output-file', b], env).status, 0);
    assert.equal(spawnSync('cmp', [a, b]).status, 0, 'byte-identical');
  });

  it('refuses bad command lines with usage errors (exit 2)', () => {
    const out = path.join(dir, 'x.eif');
    const cases: [string[], RegExp][] = [
      [['build-enclave', '--output-file', out], /one of the following arguments is required/],
      [['build-enclave', '--oci-layout', layout, '--image-archive', archive, '--output-file', out], /cannot be used with/],
      [['build-enclave', '--oci-layout', layout], /--output-file/],
      [['build-enclave', '--oci-layout', layout, '--output-file', out, '--signing-certificate', 'c.pem'], /requires '--private-key'/],
      [['build-enclave', '--oci-layout', layout, '--output-file', out, '--arch', 'riscv64'], /possible values: x86_64, aarch64/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(out), false);
  });

  it('reports build failures as [ E48 ] with exit code 48 and writes nothing', () => {
    const out = path.join(dir, 'x.eif');
    const missing = run(['build-enclave', '--oci-layout', `${layout}:v1`, '--output-file', out, '--blobs', path.join(dir, 'no-blobs')]);
    assert.equal(missing.status, 48);
    assert.match(missing.stderr, /\[ E48 \] EIF building error\. the blobs directory .*no-blobs does not exist/);
    const tag = run(['build-enclave', '--oci-layout', `${layout}:nope`, '--output-file', out, '--blobs', blobs]);
    assert.equal(tag.status, 48);
    assert.match(tag.stderr, /nope/);
    writeFileSync(path.join(dir, 'meta.json'), '{oops');
    const meta = run(['build-enclave', '--oci-layout', `${layout}:v1`, '--output-file', out, '--blobs', blobs, '--metadata', path.join(dir, 'meta.json')]);
    assert.equal(meta.status, 48);
    assert.match(meta.stderr, /meta\.json is not valid JSON/);
    assert.deepEqual(readdirSync(dir), ['meta.json']);
  });

  it('stops on Ctrl-C (SIGINT) while `docker save` runs, exits 130 and leaves nothing behind', async () => {
    const out = path.join(dir, 'x.eif');
    const tmp = path.join(dir, 'tmp');
    const bin = path.join(dir, 'bin');
    mkdirSync(tmp);
    mkdirSync(bin);
    // A docker CLI that never finishes its export: the build is still reading the image when the signal comes.
    writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const child = spawn(process.execPath, [cli, 'build-enclave', '--docker-uri', 'hello:v1', '--output-file', out, '--blobs', blobs], {
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, TMPDIR: tmp },
    });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!signalled && stderr.includes('running docker save')) {
        signalled = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - started < 10_000, 'docker save was stopped, not waited for');
    assert.match(stderr, /Build cancelled; nothing was written\./);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(tmp), [], 'the temporary directory is removed');
  });
});
