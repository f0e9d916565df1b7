// Bounded, seeded fuzzing of the attestation decoder and verifier: random bytes, mutated and
// truncated real documents, deep nesting, huge declared lengths, indefinite-length abuse. Every case
// must come back as a well-formed report (never an exception), within a per-case time bound, with
// bounded RSS growth; a report that says "valid" must be confirmed by an independent check (the
// test's own CBOR walker, the pinned root bytes and node:crypto).
//
// The cases run on a worker thread (this same file, started with workerData) so the main thread can
// catch a synchronous hang: it terminates the worker when no case has started or finished for 10 s.
// A failure names the group, seed and case number; `generators[group](new Prng(seed + i))` rebuilds it.
//
// Duplicate keys in the payload map run on the main thread: they need documents with a valid
// signature (made with an openssl CA), so that the duplicate is the only reason to reject them.
import * as assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  AWS_NITRO_ROOT_G1_PEM,
  firstCertificateDer,
  verifyAttestation,
  type VerifyReport,
} from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import {
  EXT,
  ES384_PROTECTED,
  REAL_FILES,
  TAGGED_FILE,
  Prng,
  buildPayload,
  cBstr,
  cMap,
  cText,
  cUint,
  cabundleOf,
  certificateOf,
  concat,
  encodeSign1,
  entryIndex,
  hex,
  joinPayload,
  loadFixture,
  makeCerts,
  nodeVerifySign1,
  removeDir,
  samplePcrs,
  setEntry,
  sign1Layout,
  signedDocument,
  splitPayload,
  tempDir,
  type MadeCert,
  type PayloadParts,
} from './helpers';

const CASE_LIMIT_MS = 1500;
const WATCHDOG_MS = 10000;
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;

interface Group {
  readonly name: string;
  readonly seed: number;
  /** Number of cases (for the deterministic structural group: its list's length). */
  readonly cases: number;
}

const GROUPS: readonly Group[] = [
  { name: 'random bytes and text', seed: 0xa11ce, cases: 1000 },
  { name: 'mutated real documents', seed: 0xb0b, cases: 1500 },
  { name: 'truncated real documents', seed: 0xc0ffee, cases: 600 },
  { name: 'structural abuse', seed: 0, cases: -1 },
];

type Msg =
  | { kind: 'start'; id: number }
  | { kind: 'fail'; id: number; what: string }
  | {
      kind: 'done';
      valid: number;
      invalid: number;
      failedCodes: Record<string, number>;
      rssBase: number;
      rssPeak: number;
      slowestMs: number;
      slowestCase: number;
    };

// ---------------------------------------------------------------------------------------------
// Case generators (deterministic in the case's seed).

const DOCS = [...REAL_FILES, TAGGED_FILE];
const CHECK_STATUSES = new Set(['pass', 'fail', 'warn', 'skip']);
const G1_DER = firstCertificateDer(AWS_NITRO_ROOT_G1_PEM);

const asText = (rng: Prng, bytes: Uint8Array): string =>
  rng.next() < 0.5 ? Buffer.from(bytes).toString('base64') : hex(bytes);

function randomCase(rng: Prng): Uint8Array | string {
  const len = rng.pick([0, 1, 2, 3, 5, 8, 17, 64, 500, 4000, 9000]);
  const b = rng.bytes(len);
  const r = rng.next();
  if (r < 0.45 && len > 0) b[0] = rng.pick([0x84, 0xd2]);
  if (r >= 0.45 && r < 0.6 && len > 1) {
    b[0] = 0xd2;
    b[1] = 0x84;
  }
  if (r > 0.85) {
    const alphabet =
      rng.next() < 0.5
        ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n'
        : '0123456789abcdefABCDEF \nx';
    return Array.from({ length: len }, () => alphabet[rng.int(0, alphabet.length - 1)]).join('');
  }
  return b;
}

const SPECIAL = [0x00, 0xff, 0x1b, 0x9f, 0xbf, 0x5f, 0x7f, 0x9b, 0xbb, 0x5b, 0x7b, 0xf6, 0xf7, 0xd2, 0xc0, 0x1c, 0xf8];

function mutatedCase(rng: Prng): Uint8Array | string {
  let b = Buffer.from(loadFixture(rng.pick(DOCS)));
  const ops = rng.int(1, 4);
  for (let i = 0; i < ops; i++) {
    const at = rng.int(0, Math.max(0, b.length - 1));
    switch (rng.int(0, 5)) {
      case 0:
        b[at] = rng.int(0, 255);
        break;
      case 1:
        b[at] = rng.pick(SPECIAL);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.bytes(rng.int(1, 16))), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 64)))]);
        break;
      case 4: {
        const from = rng.int(0, Math.max(0, b.length - 1));
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + rng.int(1, 300)), b.subarray(at)]);
        break;
      }
      default:
        b[at] = (b[at] as number) ^ (1 << rng.int(0, 7));
    }
  }
  return rng.next() < 0.1 ? asText(rng, b) : new Uint8Array(b);
}

function truncatedCase(rng: Prng): Uint8Array | string {
  const doc = loadFixture(rng.pick(DOCS));
  const cut = rng.next() < 0.3 ? rng.int(0, 64) : rng.int(0, doc.length - 1);
  let b = doc.subarray(0, cut);
  if (rng.next() < 0.2) b = concat(b, rng.bytes(rng.int(1, 32)));
  return rng.next() < 0.1 ? asText(rng, b) : new Uint8Array(b);
}

/** A real envelope around another payload (original protected header and signature). */
function envelope(payload: Uint8Array): Uint8Array {
  const l = sign1Layout(loadFixture('evervault-2022-10-13-prod.cbor'));
  return encodeSign1({ protectedBytes: l.protectedBytes, payload, signature: l.signature });
}

const repeat = (byte: number, n: number): Uint8Array => new Uint8Array(n).fill(byte);
const u64max = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const u32max = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
const two32 = Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0);

function structuralCases(): (Uint8Array | string)[] {
  const real = loadFixture('evervault-2022-10-13-prod.cbor');
  const l = sign1Layout(real);
  const p = splitPayload(l.payload);
  const withValue = (name: string, value: Uint8Array) => envelope(joinPayload(setEntry(p, name, value)));
  const cases: (Uint8Array | string)[] = [];
  // Deep nesting: 100000 levels everywhere the decoder looks.
  cases.push(concat(Uint8Array.of(0x84), repeat(0x81, 100000), Uint8Array.of(0x00)));
  cases.push(concat(repeat(0xd2, 100000), real));
  cases.push(envelope(concat(repeat(0x81, 100000), Uint8Array.of(0x00))));
  cases.push(envelope(repeat(0x9f, 100000)));
  cases.push(envelope(concat(...Array.from({ length: 50000 }, () => Uint8Array.of(0xa1, 0x00)), Uint8Array.of(0x00))));
  cases.push(envelope(concat(repeat(0xc6, 100000), Uint8Array.of(0x00))));
  cases.push(envelope(concat(repeat(0x9f, 50000), repeat(0xff, 50000))));
  cases.push(
    encodeSign1({
      protectedBytes: concat(repeat(0x81, 1000), Uint8Array.of(0)),
      payload: l.payload,
      signature: l.signature,
    }),
  );
  cases.push(concat(Uint8Array.of(0x84), cBstr(l.protectedBytes), repeat(0x81, 100000), Uint8Array.of(0)));
  cases.push(withValue('pcrs', concat(repeat(0xa1, 20000), repeat(0x00, 20000))));
  cases.push(withValue('cabundle', concat(repeat(0x81, 100000), Uint8Array.of(0x40))));
  // Huge declared lengths (2^32, 2^32 - 1 and 2^64 - 1 items or bytes)
  // at the top, in the envelope and in payload fields.
  for (const [m, arg] of [
    [0x9b, u64max],
    [0x9b, two32],
    [0x9a, u32max],
    [0xbb, u64max],
    [0xbb, two32],
    [0xba, u32max],
    [0x5b, u64max],
    [0x5b, two32],
    [0x5a, u32max],
    [0x7b, u64max],
    [0x7a, u32max],
  ] as const) {
    const h = concat(Uint8Array.of(m), arg);
    cases.push(concat(Uint8Array.of(0x84), h));
    cases.push(concat(Uint8Array.of(0xd2), h));
    cases.push(envelope(h));
    cases.push(concat(Uint8Array.of(0x84), cBstr(l.protectedBytes), Uint8Array.of(0xa0), h, cBstr(l.signature)));
    cases.push(withValue('cabundle', h));
    cases.push(withValue('pcrs', h));
    cases.push(withValue('certificate', h));
    cases.push(concat(Uint8Array.of(0x84), h, real.subarray(1)));
  }
  // Counts that are "only" too large for what follows.
  cases.push(withValue('cabundle', concat(Uint8Array.of(0x9a, 0x00, 0x0f, 0x42, 0x40), cBstr(new Uint8Array(10)))));
  cases.push(withValue('pcrs', Uint8Array.of(0xb9, 0xff, 0xff, 0x00, 0x40)));
  // Indefinite-length abuse.
  // no break
  cases.push(concat(Uint8Array.of(0x84, 0x5f), ...Array.from({ length: 50000 }, () => Uint8Array.of(0x41, 0x00))));
  cases.push(concat(Uint8Array.of(0x84, 0x5f, 0x5f, 0x41, 0x00, 0xff, 0xff))); // nested indefinite string
  cases.push(concat(Uint8Array.of(0x84, 0x5f, 0x61, 0x61, 0xff))); // text chunk in a byte string
  cases.push(concat(Uint8Array.of(0x84, 0x9f))); // no break
  cases.push(concat(Uint8Array.of(0x84, 0xff))); // break in a definite array
  cases.push(Uint8Array.of(0xd2, 0xff));
  cases.push(envelope(Uint8Array.of(0xbf, 0x00, 0xff))); // key without a value
  cases.push(envelope(Uint8Array.of(0xbf, 0xff, 0xff))); // a second break
  cases.push(envelope(concat(Uint8Array.of(0xbf), ...p.entries.flatMap((e) => [e.key, e.value])))); // never ends
  cases.push(envelope(concat(Uint8Array.of(0x9f), repeat(0x00, 200000), Uint8Array.of(0xff)))); // 200000 items
  cases.push(
    envelope(
      concat(
        Uint8Array.of(0xbf),
        ...Array.from({ length: 40000 }, (_, i) => cUint(i)).flatMap((k) => [k, Uint8Array.of(0xf6)]),
        Uint8Array.of(0xff),
      ),
    ),
  ); // 40000 distinct keys
  cases.push(
    withValue(
      'module_id',
      concat(
        Uint8Array.of(0x7f),
        ...Array.from({ length: 30000 }, () => Uint8Array.of(0x61, 0x41)),
        Uint8Array.of(0xff),
      ),
    ),
  ); // 30000 text chunks
  cases.push(
    withValue(
      'certificate',
      concat(Uint8Array.of(0x5f), ...Array.from({ length: 30000 }, () => Uint8Array.of(0x40)), Uint8Array.of(0xff)),
    ),
  ); // 30000 empty chunks
  // The payload as an indefinite-length byte string whose chunks join to the real payload (still the same bytes).
  cases.push(
    concat(
      Uint8Array.of(0x84),
      cBstr(l.protectedBytes),
      Uint8Array.of(0xa0, 0x5f),
      cBstr(l.payload.subarray(0, 1000)),
      cBstr(l.payload.subarray(1000)),
      Uint8Array.of(0xff),
      cBstr(l.signature),
    ),
  );
  // Other oddities: reserved additional information, two-byte simple values, invalid UTF-8, an oversize input.
  for (const b of [0x1c, 0x1d, 0x1e, 0x3c, 0x5c, 0x7c, 0x9c, 0xbc, 0xdc, 0xfc, 0xfd, 0xfe])
    cases.push(envelope(Uint8Array.of(b)));
  cases.push(envelope(Uint8Array.of(0xf8, 0x00)));
  cases.push(withValue('module_id', Uint8Array.of(0x63, 0xff, 0xfe, 0xfd)));
  cases.push(withValue('timestamp', Uint8Array.of(0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)));
  cases.push(withValue('timestamp', concat(Uint8Array.of(0xc2, 0x49), repeat(0xff, 9)))); // bignum
  cases.push(withValue('timestamp', Uint8Array.of(0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0))); // +Infinity
  cases.push(withValue('timestamp', Uint8Array.of(0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0))); // NaN
  // the largest accepted size
  cases.push(concat(Uint8Array.of(0x84), cBstr(new Uint8Array(262140)), Uint8Array.of(0xa0, 0x40, 0x40)));
  // just too large
  cases.push(concat(Uint8Array.of(0x84), cBstr(new Uint8Array(262144)), Uint8Array.of(0xa0, 0x40, 0x40)));
  cases.push('A'.repeat(600000));
  cases.push('0'.repeat(600000));
  cases.push(`${'A'.repeat(1000)}!`);
  cases.push('');
  cases.push(' \n\t');
  cases.push(new Uint8Array(0));
  return cases;
}

const generators: Record<string, (rng: Prng, i: number) => Uint8Array | string> = {
  'random bytes and text': (rng) => randomCase(rng),
  'mutated real documents': (rng) => mutatedCase(rng),
  'truncated real documents': (rng) => truncatedCase(rng),
};

// ---------------------------------------------------------------------------------------------
// The worker: runs one group and reports.

function checkReport(r: VerifyReport): string | undefined {
  if (typeof r !== 'object' || r === null) return 'no report';
  if (typeof r.valid !== 'boolean') return 'valid is not a boolean';
  if (typeof r.summary !== 'string' || r.summary.length === 0) return 'no summary';
  if (!Array.isArray(r.checks) || r.checks.length === 0) return 'no checks';
  for (const c of r.checks) {
    if (typeof c.code !== 'string' || !CHECK_STATUSES.has(c.status) || typeof c.reason !== 'string')
      return `malformed check ${JSON.stringify(c)}`;
  }
  if (r.valid !== !r.checks.some((c) => c.status === 'fail')) return 'valid disagrees with the checks';
  if (!(r.at instanceof Date) || Number.isNaN(r.at.getTime())) return 'no verification time';
  if (r.valid) {
    // Independent confirmation: the bytes are a COSE_Sign1 whose cabundle starts with the pinned root
    // and whose ES384 signature verifies with the leaf key (node:crypto).
    const bytes = r.decoded?.bytes;
    if (!bytes) return 'valid without decoded bytes';
    try {
      const p = splitPayload(sign1Layout(bytes).payload);
      if (hex(cabundleOf(p)[0] ?? new Uint8Array()) !== hex(G1_DER))
        return 'valid but cabundle[0] is not the pinned root';
      if (!nodeVerifySign1(bytes, certificateOf(p))) return 'valid but node:crypto rejects the signature';
    } catch (e) {
      return `valid but the test walker cannot read it: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return undefined;
}

function runGroup(group: Group, post: (m: Msg) => void): void {
  const cases = group.name === 'structural abuse' ? structuralCases() : undefined;
  const count = cases ? cases.length : group.cases;
  (globalThis as { gc?: () => void }).gc?.();
  const rssBase = process.memoryUsage.rss();
  let rssPeak = rssBase;
  let valid = 0;
  let invalid = 0;
  let slowestMs = 0;
  let slowestCase = -1;
  const failedCodes: Record<string, number> = {};
  const gen = generators[group.name];
  for (let i = 0; i < count; i++) {
    const input = cases
      ? (cases[i] as Uint8Array | string)
      : (gen as (rng: Prng, i: number) => Uint8Array | string)(new Prng(group.seed + i), i);
    post({ kind: 'start', id: i });
    const t0 = performance.now();
    let r: VerifyReport;
    try {
      r = verifyAttestation(input, { at: 'document' }, nodeAttestationCrypto);
    } catch (e) {
      post({ kind: 'fail', id: i, what: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` });
      return;
    }
    const ms = performance.now() - t0;
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestCase = i;
    }
    if (ms > CASE_LIMIT_MS) {
      post({ kind: 'fail', id: i, what: `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS})` });
      return;
    }
    const bad = checkReport(r);
    if (bad) {
      post({ kind: 'fail', id: i, what: `${bad}: ${r?.summary}` });
      return;
    }
    if (r.valid) valid++;
    else invalid++;
    for (const c of r.checks) if (c.status === 'fail') failedCodes[c.code] = (failedCodes[c.code] ?? 0) + 1;
    if (i % 25 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  post({ kind: 'done', valid, invalid, failedCodes, rssBase, rssPeak, slowestMs, slowestCase });
}

if (!isMainThread && (workerData as { attestationFuzz?: Group } | undefined)?.attestationFuzz) {
  const group = (workerData as { attestationFuzz: Group }).attestationFuzz;
  runGroup(group, (m) => parentPort?.postMessage(m));
}

// ---------------------------------------------------------------------------------------------
// The main thread: one worker per group, with a watchdog.

function runInWorker(group: Group): Promise<Extract<Msg, { kind: 'done' }>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { attestationFuzz: group }, execArgv: process.execArgv });
    let last = -1;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`${group.name} (seed ${group.seed}): case ${last} hung (no progress for ${WATCHDOG_MS} ms)`));
      }, WATCHDOG_MS);
    };
    arm();
    worker.on('message', (m: Msg) => {
      arm();
      if (m.kind === 'start') last = m.id;
      else if (m.kind === 'fail') {
        clearTimeout(timer);
        void worker.terminate();
        reject(new Error(`${group.name} (seed ${group.seed}), case ${m.id}: ${m.what}`));
      } else {
        clearTimeout(timer);
        resolve(m);
      }
    });
    worker.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${group.name}: the worker died at case ${last}: ${e.message}`));
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${group.name}: the worker exited with ${code} at case ${last}`));
    });
  });
}

if (isMainThread) {
  describe('(unit) attestation: fuzz', function () {
    this.timeout(120000);

    for (const group of GROUPS) {
      const what = group.cases < 0 ? 'the deterministic cases' : `${group.cases} cases (seed ${group.seed})`;
      it(
        `${group.name}: ${what} each return a report within ${CASE_LIMIT_MS} ms, ` +
          `RSS growth < ${RSS_GROWTH_LIMIT / 1048576} MB`,
        async () => {
          const done = await runInWorker(group);
          assert.equal(done.valid + done.invalid, group.cases < 0 ? structuralCases().length : group.cases);
          assert.ok(
            done.rssPeak - done.rssBase < RSS_GROWTH_LIMIT,
            `RSS grew by ${((done.rssPeak - done.rssBase) / 1048576).toFixed(0)} MB`,
          );
          assert.ok(done.slowestMs < CASE_LIMIT_MS, `case ${done.slowestCase}: ${done.slowestMs} ms`);
          if (group.name === 'structural abuse') {
            // Nothing in this group is a valid document; the engine must say why at the envelope or payload level.
            assert.equal(done.valid, 0);
            assert.ok((done.failedCodes['cose.structure'] ?? 0) > 0);
            assert.ok((done.failedCodes['payload.syntax'] ?? 0) > 0);
          }
          if (group.name === 'random bytes and text') assert.equal(done.valid, 0);
        },
      );
    }

    it(
      'the deepest and the largest structural cases are rejected ' +
        'as not well-formed, quickly (spot checks on the main thread)',
      () => {
        const deep = concat(Uint8Array.of(0x84), new Uint8Array(100000).fill(0x81), Uint8Array.of(0x00));
        let t0 = performance.now();
        let r = verifyAttestation(deep, { at: 'document' }, nodeAttestationCrypto);
        assert.ok(performance.now() - t0 < 500);
        assert.equal(r.valid, false);
        assert.equal(r.checks.find((c) => c.code === 'cose.structure')?.status, 'fail');
        const huge = concat(Uint8Array.of(0x84, 0x9b), new Uint8Array(8).fill(0xff));
        t0 = performance.now();
        r = verifyAttestation(huge, { at: 'document' }, nodeAttestationCrypto);
        assert.ok(performance.now() - t0 < 500);
        assert.equal(r.checks.find((c) => c.code === 'cose.structure')?.status, 'fail');
      },
    );

    describe('duplicate keys in the payload map (spec 2.3: reject)', () => {
      let dir: string | undefined;
      let root: MadeCert;
      let int: MadeCert;
      let leaf: MadeCert;
      before(function () {
        this.timeout(120_000);
        dir = tempDir('fuzz');
        [root, int, leaf] = makeCerts(dir, [
          { name: 'root', ext: EXT.root, days: 3650 },
          { name: 'int', issuer: 0, ext: EXT.intermediate(0) },
          { name: 'leaf', issuer: 1, ext: EXT.leaf },
        ]) as [MadeCert, MadeCert, MadeCert];
      });
      after(() => removeDir(dir));

      const base = (indefinite = false): PayloadParts =>
        buildPayload(
          {
            moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
            timestamp: Date.now(),
            pcrs: samplePcrs(),
            certificate: leaf.der,
            cabundle: [root.der, int.der],
          },
          indefinite,
        );
      const judge = (p: PayloadParts, protectedBytes = ES384_PROTECTED) =>
        verifyAttestation(
          signedDocument(leaf.keyPem, joinPayload(p), protectedBytes),
          { roots: [{ pem: root.certPem }], at: 'document' },
          nodeAttestationCrypto,
        );
      const withExtra = (p: PayloadParts, key: Uint8Array, value: Uint8Array): PayloadParts => ({
        entries: [...p.entries, { key, value }],
        indefinite: p.indefinite,
      });
      const statusOf = (r: VerifyReport, code: string) => r.checks.find((c) => c.code === code)?.status;

      it('control: the same payload without a duplicate is valid (definite and indefinite map)', () => {
        for (const indefinite of [false, true]) {
          const r = judge(base(indefinite));
          assert.equal(r.valid, true, r.summary);
        }
      });

      it('module_id twice (the second one different), in a definite and in an indefinite-length map: rejected', () => {
        for (const indefinite of [false, true]) {
          const r = judge(
            withExtra(base(indefinite), cText('module_id'), cText('i-ffffffffffffffff0-encffffffffffffffff')),
          );
          assert.equal(r.valid, false, `${indefinite}: ${r.summary}`);
          assert.equal(statusOf(r, 'payload.syntax'), 'fail');
          assert.match(r.checks.find((c) => c.code === 'payload.syntax')?.reason ?? '', /same key twice|duplicate/i);
        }
      });

      it(
        'every known key duplicated with an identical value: ' +
          'still rejected (a duplicate is an error, whatever its value)',
        () => {
          const p = base();
          let consumed = 0;
          for (const e of p.entries) {
            const r = judge(withExtra(p, e.key, e.value));
            assert.equal(r.valid, false, Buffer.from(e.key).toString());
            assert.equal(statusOf(r, 'payload.syntax'), 'fail');
            consumed++;
          }
          assert.equal(consumed, 9);
        },
      );

      it('a PCR index twice inside pcrs: rejected', () => {
        const pcrs = [...samplePcrs()].map(([k, v]) => [cUint(k), cBstr(v)] as const);
        const r = judge(setEntry(base(), 'pcrs', cMap([...pcrs, [cUint(0), cBstr(new Uint8Array(48))]])));
        assert.equal(r.valid, false, r.summary);
        assert.equal(statusOf(r, 'payload.syntax'), 'fail');
      });

      it('alg twice in the protected header: rejected', () => {
        const r = judge(base(), Uint8Array.of(0xa2, 0x01, 0x38, 0x22, 0x01, 0x38, 0x22));
        assert.equal(r.valid, false, r.summary);
        assert.equal(statusOf(r, 'cose.structure'), 'fail');
      });

      it(
        'a duplicate key in a real document (original signature): ' + 'payload.syntax fails, not only the signature',
        () => {
          const doc = loadFixture('evervault-2022-10-13-prod.cbor');
          const l = sign1Layout(doc);
          const p = splitPayload(l.payload);
          const nonce = p.entries[entryIndex(p, 'nonce')];
          assert.ok(nonce);
          const dup = encodeSign1({
            protectedBytes: l.protectedBytes,
            payload: joinPayload(withExtra(p, nonce.key, cBstr(new Uint8Array(32)))),
            signature: l.signature,
          });
          const r = verifyAttestation(dup, { at: 'document' }, nodeAttestationCrypto);
          assert.equal(r.valid, false);
          assert.equal(statusOf(r, 'payload.syntax'), 'fail');
        },
      );

      it('the same key spelt with a longer text-string head (78 09 "module_id") is a duplicate and is rejected', () => {
        // Regression (an engine bug this suite found, now fixed): spec 2.3 "Reject duplicate keys". cborScan compares
        // map keys by their encoded bytes, so `69 "module_id"` and `78 09 "module_id"` (the same text with a
        // non-shortest length head, which is well-formed CBOR) pass as different keys; cbor-x then decodes both to the
        // string "module_id" and the Map keeps the second value. A validly signed document can thus
        // show one module_id to a verifier that reads the first key and another to this engine.
        const r = judge(withExtra(base(), cText('module_id', 1), cText('i-ffffffffffffffff0-encffffffffffffffff')));
        assert.equal(
          statusOf(r, 'payload.syntax'),
          'fail',
          `the duplicate was not noticed (valid: ${r.valid}); module_id reported as ${r.document?.moduleId}`,
        );
        assert.equal(r.valid, false);
      });
    });
  });
}
