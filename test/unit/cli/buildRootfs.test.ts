// build-enclave --rootfs on the command line: the usage rules of --rootfs, --cmd and --env (exit 2,
// nothing written), and --cmd split with the engine's command-line rules into the image's cmd file.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseMetadata } from '../../../src/engine/eif/metadata';
import { parseEif } from '../engine/eif/helpers';
import { repoPath } from '../repo';

const cli = repoPath('dist/cli.js');
const blobs = repoPath('test/fixtures/blobs');

describe('nitro-dev build-enclave --rootfs (usage)', function () {
  this.timeout(60_000);
  let t: string;
  const nitroDev = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: t, encoding: 'utf8' });
  before(() => {
    t = mkdtempSync(path.join(os.tmpdir(), 'nitro-rootfs-cli-'));
    mkdirSync(path.join(t, 'root', 'app'), { recursive: true });
    writeFileSync(path.join(t, 'root', 'app', 'x'), 'x');
  });
  after(() => rmSync(t, { recursive: true, force: true }));

  it('refuses --rootfs without --cmd, --cmd or --env without --rootfs, two sources, a bad --env or --cmd', () => {
    const cases: [string[], RegExp][] = [
      [['--rootfs', 'root'], /'--rootfs' requires '--cmd <COMMAND>'/],
      [['--oci-layout', 'l', '--cmd', '/x'], /'--cmd' goes with '--rootfs' only/],
      [['--oci-layout', 'l', '--env', 'A=1'], /'--env' goes with '--rootfs' only/],
      [['--rootfs', 'root', '--oci-layout', 'l', '--cmd', '/x'], /'--oci-layout' cannot be used with '--rootfs'/],
      [['--rootfs', 'root', '--cmd', '/x', '--env', 'NOVALUE'], /'--env <KEY=VALUE>': it must be KEY=VALUE/],
      [['--rootfs', 'root', '--cmd', '"/x'], /The double quote at character 1 is not closed/],
      [['--rootfs', 'root', '--cmd', '  '], /the command \(the first word\) is empty/],
    ];
    for (const [args, message] of cases) {
      const r = nitroDev('build-enclave', ...args, '--output-file', 'o.eif');
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(existsSync(path.join(t, 'o.eif')), false);
    }
    const help = nitroDev('build-enclave', '--help');
    assert.match(
      help.stdout,
      /--rootfs <DIR>\s+A plain folder as the root file system, with --cmd \(not a nitro-cli option\)/,
    );
  });

  it('splits --cmd into the cmd file and writes each --env in order; a folder that is not there is E48', () => {
    const r = nitroDev(
      'build-enclave',
      '--rootfs',
      'root',
      '--cmd',
      `/app/x --name="a b" ''`,
      '--env',
      'A=1',
      '--env',
      'B=x=y',
      '--blobs',
      blobs,
      '--arch',
      'x86_64',
      '--output-file',
      'o.eif',
    );
    assert.equal(r.status, 0, r.stderr);
    const eif = parseEif(readFileSync(path.join(t, 'o.eif')));
    const metadata = parseMetadata(eif.sections[2]?.data as Uint8Array);
    assert.deepEqual(metadata.DockerInfo, {
      Architecture: 'amd64',
      Config: { Cmd: ['/app/x', '--name=a b', ''], Env: ['A=1', 'B=x=y'] },
      Os: 'linux',
    });
    const missing = nitroDev(
      'build-enclave',
      '--rootfs',
      'nope',
      '--cmd',
      '/x',
      '--blobs',
      blobs,
      '--output-file',
      'p.eif',
    );
    assert.equal(missing.status, 48, missing.stderr);
    assert.match(missing.stderr, /\[ E48 \] EIF building error\. the root file system folder .*nope does not exist/);
    assert.equal(existsSync(path.join(t, 'p.eif')), false);
  });
});
