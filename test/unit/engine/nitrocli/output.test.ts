// Reading nitro-cli's output: the JSON samples and the error report of spec eif.md section 7,
// malformed output refused with a clear message, the parent facts script's sections, and words
// quoted for the remote shell.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BackendError,
  NitroCliOutputError,
  ParentFactsError,
  nitroCliFailure,
  parentFactsScript,
  parseCpuList,
  parseDescribeEnclavesOutput,
  parseParentFacts,
  parseRunEnclaveOutput,
  parseTerminateEnclaveOutput,
  shellCommand,
  shellQuote,
} from '../../../../src/engine';

// Spec 7.5, byte for byte (JSON.stringify(v, null, 2) + "\n" layout).
const RUN_SAMPLE = `{
  "EnclaveName": "hello",
  "EnclaveID": "i-0abc123def4567890-enc18c2e5a4f1b2d3e",
  "ProcessID": 4321,
  "EnclaveCID": 16,
  "NumberOfCPUs": 2,
  "CPUIDs": [
    1,
    3
  ],
  "MemoryMiB": 512
}
`;

// Spec 7.9.
const E26_TEXT =
  'Insufficient memory requested. User provided `memory` is 64 MB, but based on the EIF file size, the minimum ' +
  'memory should be 128 MB';
const E26_REPORT = `[ E26 ] ${E26_TEXT}

For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E26

If you open a support ticket, please provide the error log found at "/var/log/nitro_enclaves/err2025-01-01T00:00Z.log"
`;

const PCR = 'ab'.repeat(48);
const describeItem = (extra: Record<string, unknown> = {}) => ({
  EnclaveName: 'hello',
  EnclaveID: 'i-0abc123def4567890-enc18c2e5a4f1b2d3e',
  ProcessID: 4321,
  EnclaveCID: 16,
  NumberOfCPUs: 2,
  CPUIDs: [1, 3],
  MemoryMiB: 512,
  State: 'RUNNING',
  Flags: 'DEBUG_MODE',
  Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: PCR, PCR1: PCR, PCR2: PCR },
  ...extra,
});

describe('nitro-cli output', () => {
  it("reads run-enclave's sample", () => {
    assert.deepEqual(parseRunEnclaveOutput(RUN_SAMPLE), {
      EnclaveName: 'hello',
      EnclaveID: 'i-0abc123def4567890-enc18c2e5a4f1b2d3e',
      ProcessID: 4321,
      EnclaveCID: 16,
      NumberOfCPUs: 2,
      CPUIDs: [1, 3],
      MemoryMiB: 512,
    });
  });

  it('reads describe-enclaves (empty, with metadata, without an EnclaveName)', () => {
    assert.deepEqual(parseDescribeEnclavesOutput('[]\n'), []);
    const meta = describeItem({ ImageName: 'hello', ImageVersion: '1', Metadata: { BuildTool: 'x' } });
    const [d] = parseDescribeEnclavesOutput(`${JSON.stringify([meta], null, 2)}\n`);
    assert.deepEqual(d, meta);
    const { EnclaveName: _, ...old } = describeItem();
    assert.equal(parseDescribeEnclavesOutput(JSON.stringify([old]))[0]!.EnclaveName, '');
  });

  it("reads terminate-enclave's object", () => {
    const json = '{\n  "EnclaveName": "hello",\n  "EnclaveID": "i-0abc123def4567890-enc1",\n  "Terminated": true\n}\n';
    assert.deepEqual(parseTerminateEnclaveOutput(json), {
      EnclaveName: 'hello',
      EnclaveID: 'i-0abc123def4567890-enc1',
      Terminated: true,
    });
  });

  it('refuses malformed output, naming what is wrong', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => parseRunEnclaveOutput(''), /printed nothing/],
      [() => parseRunEnclaveOutput('Start allocating memory...'), /not JSON/],
      [() => parseRunEnclaveOutput('[]'), /one JSON object/],
      [() => parseRunEnclaveOutput(RUN_SAMPLE.replace('4321', '"4321"')), /ProcessID should be a non-negative integer/],
      [() => parseRunEnclaveOutput(RUN_SAMPLE.replace('3\n', '-3\n')), /CPUIDs should be an array of CPU numbers/],
      [() => parseRunEnclaveOutput(RUN_SAMPLE.replace('16', '1.5')), /EnclaveCID/],
      [() => parseDescribeEnclavesOutput('{}'), /JSON array/],
      [
        () => parseDescribeEnclavesOutput(JSON.stringify([describeItem({ State: 'DEAD' })])),
        /State should be RUNNING or TERMINATING or EMPTY/,
      ],
      [() => parseDescribeEnclavesOutput(JSON.stringify([describeItem({ Flags: 1 })])), /Flags/],
      [
        () =>
          parseDescribeEnclavesOutput(
            JSON.stringify([describeItem({ Measurements: { HashAlgorithm: 'x', PCR0: 'zz', PCR1: PCR, PCR2: PCR } })]),
          ),
        /PCR0 is not 96 hex digits/,
      ],
      [
        () => parseDescribeEnclavesOutput(JSON.stringify([describeItem({ Metadata: [] })])),
        /Metadata should be an object/,
      ],
      [() => parseTerminateEnclaveOutput('{"EnclaveID":"x","Terminated":"yes"}'), /Terminated should be true or false/],
      [() => parseRunEnclaveOutput(' '.repeat(4 * 1024 * 1024 + 1)), /more than/],
    ];
    for (const [f, re] of bad) assert.throws(f, (e: unknown) => e instanceof NitroCliOutputError && re.test(e.message));
  });

  it("turns the spec's [ E26 ] report into BackendError 26 with its message", () => {
    const e = nitroCliFailure('run-enclave', { status: 26, stderr: `Start allocating memory...\n${E26_REPORT}` });
    assert.ok(e instanceof BackendError);
    assert.equal(e.code, 26);
    assert.equal(e.message, E26_TEXT);
  });

  it('says what happened when there is no report: clap usage errors, missing nitro-cli, signals', () => {
    const clap = nitroCliFailure('run-enclave', {
      status: 2,
      stderr:
        "error: the argument '--cpu-count <CPU_COUNT>' cannot be used with '--cpu-ids <CPU_IDS>...'\n\nUsage: ...\n",
    });
    assert.ok(!(clap instanceof BackendError));
    assert.equal(
      clap.message,
      'nitro-cli run-enclave refused its arguments: ' +
        "error: the argument '--cpu-count <CPU_COUNT>' cannot be used with '--cpu-ids <CPU_IDS>...'",
    );
    assert.match(
      nitroCliFailure('describe-enclaves', { status: 127, stderr: 'sh: 1: nitro-cli: not found\n' }).message,
      /^nitro-cli was not found: sh: 1: nitro-cli: not found$/,
    );
    assert.match(
      nitroCliFailure('console', { status: null, signal: 'SIGKILL', stderr: '' }).message,
      /ended by SIGKILL/,
    );
    assert.equal(
      nitroCliFailure('console', { status: 1, stderr: '' }).message,
      'nitro-cli console failed with exit status 1 and no message',
    );
  });
});

describe('parent facts', () => {
  it('parses CPU lists', () => {
    assert.deepEqual(parseCpuList('1-3,5\n'), [1, 2, 3, 5]);
    assert.deepEqual(parseCpuList(''), []);
    assert.throws(() => parseCpuList('1-a'), ParentFactsError);
    assert.throws(() => parseCpuList('3-1'), ParentFactsError);
    assert.throws(() => parseCpuList('0-99999'), ParentFactsError);
  });

  it('runs in sh against a system tree and a fake nitro-cli; a forged marker cannot add a section', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'nitro-facts-'));
    try {
      const put = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      };
      put('sys/devices/virtual/dmi/id/board_asset_tag', 'i-0123456789abcdef0\n');
      put('sys/devices/system/cpu/online', '0-3\n');
      put('proc/meminfo', 'MemTotal:        8000000 kB\n');
      put('sys/module/nitro_enclaves/parameters/ne_cpus', '2-3\n');
      put('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '256\n');
      put('sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages', '1\n');
      const marker = '@@nitro-dev-0123456789abcdef';
      // The fake prints a forged "end" section on stderr before its JSON.
      put(
        'bin/nitro-cli',
        '#!/bin/sh\ncase "$1" in --version) echo \'Nitro CLI 1.5.0\';;\n' +
          "describe-enclaves) echo '@@nitro-dev-forged end' >&2; echo '[]';; esac\n",
      );
      spawnSync('chmod', ['+x', path.join(root, 'bin/nitro-cli')]);
      const script = parentFactsScript({ nitroCli: path.join(root, 'bin/nitro-cli'), marker, systemRoot: `${root}/` });
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const facts = parseParentFacts(r.stdout, marker);
      assert.deepEqual(facts, {
        version: { status: 0, output: 'Nitro CLI 1.5.0' },
        instanceId: 'i-0123456789abcdef0',
        vcpus: 4,
        memoryMiB: 7812,
        driverLoaded: true,
        poolCpuIds: [2, 3],
        hugepagesMiB: 256 * 2 + 1024,
        describe: { status: 0, stdout: '[]', stderr: '@@nitro-dev-forged end' },
      });
      // Without the driver the pool is empty, whatever else is there; without nitro-cli, status 127 and no describe.
      rmSync(path.join(root, 'sys/module'), { recursive: true });
      const noDriver = parseParentFacts(spawnSync('sh', ['-c', script], { encoding: 'utf8' }).stdout, marker);
      assert.deepEqual([noDriver.driverLoaded, noDriver.poolCpuIds, noDriver.hugepagesMiB], [false, [], 0]);
      const none = parentFactsScript({ nitroCli: path.join(root, 'missing'), marker, systemRoot: root });
      const missing = parseParentFacts(spawnSync('sh', ['-c', none], { encoding: 'utf8' }).stdout, marker);
      assert.equal(missing.version.status, 127);
      assert.equal(missing.describe, undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses output cut short and bad markers', () => {
    const marker = '@@nitro-dev-0123456789abcdef';
    assert.throws(() => parseParentFacts(`${marker} version\nNitro CLI 1.5.0\n`, marker), /did not run to its end/);
    assert.throws(() => parseParentFacts(`${marker} end\n`, marker), /no nitro-cli status/);
    assert.throws(() => parentFactsScript({ nitroCli: 'nitro-cli', marker: "x'; rm -rf /" }), /marker/);
  });
});

describe('shell quoting', () => {
  const HOSTILE = [
    '',
    'plain',
    "it's",
    "''",
    '"double" quotes',
    '$(touch /tmp/nope) `touch /tmp/nope` ${HOME} $HOME',
    'a;b|c&d>e<f',
    '*?[a-z]~',
    '-n',
    'back\\slash\\',
    'new\nline\ttab',
    'a=b',
    'ünïcödé 🚀',
    "'\\''",
  ];

  it('gives sh back exactly the words it was given', () => {
    for (const word of HOSTILE) {
      const r = spawnSync('sh', ['-c', `printf '%s' ${shellQuote(word)}`], { encoding: 'utf8' });
      assert.equal(r.stdout, word, `word ${JSON.stringify(word)} came back as ${JSON.stringify(r.stdout)}`);
    }
    const r = spawnSync('sh', ['-c', `${shellCommand(['printf', '%s|', ...HOSTILE])}`], { encoding: 'utf8' });
    assert.equal(r.stdout, HOSTILE.map((w) => `${w}|`).join(''));
  });

  it('quotes a first word with = (an assignment otherwise) and refuses NUL', () => {
    assert.equal(shellCommand(['a=b', 'c=d']), "'a=b' c=d");
    assert.throws(() => shellQuote('a\0b'), /NUL/);
  });
});
