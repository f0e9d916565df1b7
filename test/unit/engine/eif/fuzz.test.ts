// Bounded, seeded fuzzing of the EIF reader: mutated, truncated and spliced versions of both
// fixtures go through inspectEifSource, which must either resolve with a well-formed result or
// reject with EifFormatError. Any other exception, a case that takes longer than 2 s, or RSS growth
// beyond 200 MB fails the test, naming the seed and case number.
//
// The cases run on a worker thread (this same file, started with workerData), so the main thread
// can also catch a synchronous hang: it terminates the worker when no case has started or finished
// for 5 s. A failure names its seed; `generator(group.name)(new Prng(seed))` rebuilds that input.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  EifFormatError,
  MemoryByteSource,
  SectionType,
  inspectEifSource,
  type EifInspection,
} from '../../../../src/engine';
import { nodeEifPorts } from '../../../../src/engine/node';
import { repoPath } from '../../repo';
import { Prng, T, ascii, buildEif, cborHead, concat, eifCrc, expectedPcrs, parseEif, type RawSection } from './helpers';

const CASE_TIMEOUT_MS = 30_000;
const WATCHDOG_MS = 5000;
const RSS_LIMIT = 200 * 1024 * 1024;

interface Group {
  readonly name: string;
  readonly seed: number;
  readonly cases: number;
}

const GROUPS: readonly Group[] = [
  { name: 'header and length mutations (signed fixture)', seed: 101, cases: 800 },
  { name: 'header and length mutations (unsigned fixture)', seed: 202, cases: 600 },
  { name: 'signature section mutations', seed: 303, cases: 800 },
  { name: 'truncations', seed: 404, cases: 500 },
  { name: 'splices of both fixtures', seed: 505, cases: 800 },
];

type Msg =
  | { kind: 'start'; id: number }
  | { kind: 'fail'; id: number; what: string }
  | {
      kind: 'done';
      resolved: number;
      rejected: number;
      codes: Record<string, number>;
      rssBefore: number;
      rssPeak: number;
    };

// ---------------------------------------------------------------------------------------------
// Case generators (deterministic in the case seed).

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const load = (name: string) => {
  const bytes = new Uint8Array(readFileSync(`${FIXTURES}/${name}.eif`));
  return { bytes, parsed: parseEif(bytes) };
};

function generator(group: string): (rng: Prng) => Uint8Array {
  const signed = load('synthetic-v4-signed');
  const unsigned = load('synthetic-v4-unsigned');
  const pool: RawSection[] = [
    ...[...signed.parsed.sections, ...unsigned.parsed.sections].map((s) => ({ type: s.type, data: s.data })),
    // Empty sections too (0-byte kernel, cmdline, ramdisk).
    ...[T.kernel, T.cmdline, T.ramdisk].map((type) => ({ type, data: new Uint8Array(0) })),
  ];
  const fixCrc = (b: Buffer) => b.writeUInt32BE(eifCrc(b), 544);

  const mutate = (rng: Prng, base: typeof signed, region: 'headers' | 'signature') => {
    const b = Buffer.from(base.bytes);
    const offsets = base.parsed.sections.map((s) => s.headerOffset);
    const sig = base.parsed.sections.find((s) => s.type === T.signature);
    const n = rng.int(1, 6);
    for (let k = 0; k < n; k++) {
      let at: number;
      const w = rng.next();
      if (region === 'signature' && sig) at = sig.dataOffset + rng.int(0, sig.size - 1);
      else if (w < 0.15) at = rng.pick([4, 5, 6, 7, 26, 27, 544, 545, 546, 547]);
      else if (w < 0.4) at = rng.int(0, 547);
      else if (w < 0.65) at = rng.pick(offsets) + rng.int(0, 11);
      else if (w < 0.85) at = rng.pick(offsets) + 4 + rng.int(0, 7);
      else at = rng.int(0, b.length - 1);
      const old = b[at] as number;
      b[at] = rng.pick([0, 0xff, old ^ (1 << rng.int(0, 7)), rng.int(0, 255), (old + 1) & 0xff, (old - 1) & 0xff]);
    }
    if (rng.next() < 0.1) {
      // A section length (or a header table entry) set to a random, possibly huge, u64.
      const at = rng.next() < 0.5 ? rng.pick(offsets) + 4 : 28 + 8 * rng.int(0, 63);
      b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(rng.int(0, 2 ** 31)) << BigInt(rng.int(0, 33))), at);
    }
    if (rng.next() < 0.5) fixCrc(b);
    return new Uint8Array(b);
  };

  switch (group) {
    case 'header and length mutations (signed fixture)':
      return (rng) => mutate(rng, signed, 'headers');
    case 'header and length mutations (unsigned fixture)':
      return (rng) => mutate(rng, unsigned, 'headers');
    case 'signature section mutations':
      return (rng) => mutate(rng, signed, 'signature');
    case 'truncations':
      return (rng) => {
        const base = rng.next() < 0.5 ? signed : unsigned;
        const bounds = base.parsed.sections.flatMap((s) => [s.headerOffset, s.dataOffset, s.dataOffset + s.size]);
        const len =
          rng.next() < 0.4
            ? Math.max(0, Math.min(base.bytes.length, rng.pick(bounds) + rng.int(-2, 2)))
            : rng.int(0, base.bytes.length);
        return base.bytes.slice(0, len);
      };
    case 'splices of both fixtures':
      return (rng) => {
        if (rng.next() < 0.3) {
          // A prefix of one file glued to a suffix of the other, cut at section boundaries (or near them).
          const [a, b] = rng.next() < 0.5 ? [signed, unsigned] : [unsigned, signed];
          const cutA = rng.pick(a.parsed.sections).headerOffset + (rng.next() < 0.7 ? 0 : rng.int(-3, 3));
          const cutB = rng.pick(b.parsed.sections).headerOffset + (rng.next() < 0.7 ? 0 : rng.int(-3, 3));
          return concat(a.bytes.subarray(0, Math.max(0, cutA)), b.bytes.subarray(Math.max(0, cutB)));
        }
        // Sections of both files, re-assembled in random number and order.
        const count = rng.int(0, 10);
        const sections = Array.from({ length: count }, () => rng.pick(pool));
        if (rng.next() < 0.3)
          sections.sort((x, y) => [1, 2, 5, 3, 4].indexOf(x.type) - [1, 2, 5, 3, 4].indexOf(y.type));
        const bytes = buildEif(sections, {
          version: rng.pick([2, 3, 4, 4, 4]),
          flags: rng.pick([0, 0, 1, 2]),
          ...(rng.next() < 0.2 ? { numSections: rng.int(0, 40) } : {}),
          ...(rng.next() < 0.2 ? { crc: rng.int(0, 2 ** 32 - 1) } : {}),
          ...(rng.next() < 0.2 ? { trailing: rng.bytes(rng.int(1, 20)) } : {}),
        });
        return bytes;
      };
    default:
      throw new Error(`unknown fuzz group ${group}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The contract checked on every case.

/** What is wrong with a resolved inspection of `bytes`, if anything. */
function malformed(r: EifInspection, bytes: Uint8Array): string | undefined {
  const l = r.layout;
  if (l.fileSize !== bytes.length) return `fileSize ${l.fileSize} != ${bytes.length}`;
  if (l.sections.length > 32) return `${l.sections.length} sections`;
  let at = 548;
  for (const s of l.sections) {
    if (s.headerOffset !== at || s.dataOffset !== at + 12)
      return `section ${s.index} at ${s.headerOffset}, expected ${at}`;
    if (s.type < SectionType.Kernel || s.type > SectionType.Metadata) return `section ${s.index} has type ${s.type}`;
    at = s.dataOffset + s.size;
    if (at > bytes.length) return `section ${s.index} ends past the file`;
  }
  if (l.walkEnd !== at) return `walkEnd ${l.walkEnd} != ${at}`;
  if (l.trailingBytes !== bytes.length - at || l.trailingBytes >= 12) return `trailingBytes ${l.trailingBytes}`;
  const sections: RawSection[] = l.sections.map((s) => ({
    type: s.type,
    data: bytes.subarray(s.dataOffset, s.dataOffset + s.size),
  }));
  const pcrs = expectedPcrs(sections);
  for (const k of ['PCR0', 'PCR1', 'PCR2'] as const) {
    if (r.measurements[k] !== pcrs[k]) {
      // Name the shape of the image, to group failures by cause.
      let ramdisks = 0;
      const pcr1 = sections.filter(
        (s) => s.type === T.kernel || s.type === T.cmdline || (s.type === T.ramdisk && ramdisks++ === 0),
      );
      const lastEmpty = (pcr1.at(-1)?.data.length ?? 1) === 0;
      return (
        `${k} differs from the independent value${lastEmpty ? ' (the last section feeding PCR1 is empty)' : ''}: ` +
        `${r.measurements[k]} != ${pcrs[k]}`
      );
    }
  }
  if (r.measurements.PCR8 !== undefined && !/^[0-9a-f]{96}$/.test(r.measurements.PCR8))
    return `PCR8 ${r.measurements.PCR8}`;
  const crc = eifCrc(bytes, at);
  const stored = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(544);
  if (r.crc.computed !== crc || r.crc.stored !== stored || r.crc.ok !== (crc === stored))
    return `crc ${JSON.stringify(r.crc)}, expected computed ${crc}, stored ${stored}`;
  if ('json' in r.describe) {
    if (r.describe.json.EifVersion !== l.header.version) return 'describe EifVersion';
    if (r.describe.json.CheckCRC !== r.crc.ok) return 'describe CheckCRC';
    if (r.describe.json.IsSigned !== (r.measurements.PCR8 !== undefined)) return 'describe IsSigned';
  } else if (!(r.describe.error instanceof EifFormatError)) {
    return `describe error is ${String(r.describe.error)}`;
  }
  for (const p of l.problems)
    if (!(
      typeof p.message === 'string' &&
      Number.isInteger(p.offset) &&
      (p.severity === 'error' || p.severity === 'warning')
    ))
      return `problem ${JSON.stringify(p)}`;
  return undefined;
}

const describeThrown = (e: unknown) =>
  e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : `non-Error ${String(e)}`;

/** Runs one case: undefined when the contract holds, else what went wrong. Also returns the outcome. */
async function runCase(bytes: Uint8Array): Promise<{ failure?: string; outcome: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CASE_TIMEOUT_MS)));
  const work = inspectEifSource(new MemoryByteSource(bytes, 'fuzz.eif'), nodeEifPorts).then(
    (r) => ({ r }),
    (e: unknown) => ({ e }),
  );
  const got = await Promise.race([work, timeout]);
  clearTimeout(timer);
  if (got === 'timeout') return { failure: `no answer within ${CASE_TIMEOUT_MS} ms`, outcome: 'timeout' };
  if ('e' in got) {
    if (got.e instanceof EifFormatError) return { outcome: `rejected ${got.e.code}` };
    return { failure: `rejected with ${describeThrown(got.e)}`, outcome: 'other' };
  }
  try {
    const bad = malformed(got.r, bytes);
    return bad ? { failure: `resolved with a malformed result: ${bad}`, outcome: 'resolved' } : { outcome: 'resolved' };
  } catch (e) {
    return { failure: `checking the result threw ${describeThrown(e)}`, outcome: 'resolved' };
  }
}

const caseSeed = (group: Group, i: number) => group.seed * 100_000 + i;

async function runGroupInWorker(group: Group): Promise<void> {
  const post = (m: Msg) => parentPort?.postMessage(m);
  const gen = generator(group.name);
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let resolved = 0;
  let rejected = 0;
  const codes: Record<string, number> = {};
  for (let i = 0; i < group.cases; i++) {
    post({ kind: 'start', id: i });
    const bytes = gen(new Prng(caseSeed(group, i)));
    const { failure, outcome } = await runCase(bytes);
    codes[outcome] = (codes[outcome] ?? 0) + 1;
    if (outcome === 'resolved') resolved++;
    else rejected++;
    if (failure) post({ kind: 'fail', id: i, what: failure });
    if (i % 50 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  post({ kind: 'done', resolved, rejected, codes, rssBefore, rssPeak });
}

// ---------------------------------------------------------------------------------------------

if (!isMainThread && (workerData as { fuzzGroup?: Group } | undefined)?.fuzzGroup) {
  void runGroupInWorker((workerData as { fuzzGroup: Group }).fuzzGroup);
} else if (typeof describe === 'function') {
  /** Runs a group on a worker; resolves to its failures and summary. */
  const runGroup = (group: Group) =>
    new Promise<{ failures: string[]; done: Extract<Msg, { kind: 'done' }> }>((resolve, reject) => {
      const failures: string[] = [];
      const worker = new Worker(__filename, { workerData: { fuzzGroup: group } });
      let current = -1;
      let last = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - last > WATCHDOG_MS) {
          clearInterval(watchdog);
          void worker.terminate();
          reject(
            new Error(
              `${group.name}: case ${current} (seed ${caseSeed(group, current)}) hung: ` +
                `no progress for ${WATCHDOG_MS} ms`,
            ),
          );
        }
      }, 250);
      worker.on('message', (m: Msg) => {
        last = Date.now();
        if (m.kind === 'start') current = m.id;
        else if (m.kind === 'fail') failures.push(`case ${m.id} (seed ${caseSeed(group, m.id)}): ${m.what}`);
        else {
          clearInterval(watchdog);
          void worker.terminate();
          resolve({ failures, done: m });
        }
      });
      worker.on('error', (e) => {
        clearInterval(watchdog);
        reject(
          new Error(
            `${group.name}: worker failed during case ${current} ` +
              `(seed ${caseSeed(group, current)}): ${describeThrown(e)}`,
          ),
        );
      });
      worker.on('exit', (code) => {
        clearInterval(watchdog);
        reject(new Error(`${group.name}: worker exited (${code}) during case ${current}`));
      });
    });

  describe('(unit) EIF reader fuzz', function () {
    this.timeout(120_000);

    // Regressions (engine bugs this suite found, now fixed): mutations inside the signature section's
    // PEM text can produce a certificate whose public key node:crypto cannot load; inspectEifSource then
    // rejects with a plain Error ("decode error") instead of reporting a describe error
    // (rejections.test.ts, "a certificate whose public key is not a valid EC point"); splices whose
    // first ramdisk is empty get wrong PCR0/PCR1 (roundtrip.test.ts, "an empty first ramdisk"), which the
    // independent PCR check in malformed() catches.
    for (const group of GROUPS) {
      it(`${group.name}: ${group.cases} cases resolve well-formed or reject with EifFormatError`, async () => {
        const { failures, done } = await runGroup(group);
        const total = done.resolved + done.rejected;
        assert.equal(total, group.cases);
        // The group reaches both outcomes (a generator that only ever produced one would test little).
        assert.ok(
          (done.resolved > 0 && done.rejected > 0) || group.name === 'signature section mutations',
          JSON.stringify(done.codes),
        );
        const growth = done.rssPeak - done.rssBefore;
        assert.ok(growth < RSS_LIMIT, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
        const distinct = new Map<string, string[]>();
        for (const f of failures) {
          const key = f
            .replace(/^case \d+ \(seed \d+\): /, '')
            .replace(/: [0-9a-f]{96} != [0-9a-f]{96}$/, '')
            .replace(/\d{4,}/g, 'N');
          distinct.set(key, [...(distinct.get(key) ?? []), f.split(':')[0] as string]);
        }
        assert.deepEqual(
          [...distinct].map(([k, v]) => `${v.length}× ${k} — first: ${v.slice(0, 3).join('; ')}`),
          [],
          `${failures.length} of ${group.cases} cases broke the contract (outcomes: ${JSON.stringify(done.codes)})`,
        );
      });
    }

    it('cases are deterministic in their seed (so a reported seed reproduces its case)', () => {
      for (const g of GROUPS) {
        const gen = generator(g.name);
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const a = gen(new Prng(caseSeed(g, i)));
          const b = generator(g.name)(new Prng(caseSeed(g, i)));
          assert.deepEqual(a, b, `${g.name} case ${i}`);
          seen.add(Buffer.from(a).toString('hex'));
        }
        assert.ok(seen.size >= 15, `${g.name}: only ${seen.size} distinct inputs in 20 cases`);
      }
    });

    describe('hostile lengths: typed errors, no large allocations', () => {
      const unsigned = new Uint8Array(readFileSync(`${FIXTURES}/synthetic-v4-unsigned.eif`));
      const cert = readFileSync(`${FIXTURES}/test-cert.pem`);

      async function expectFormatError(bytes: Uint8Array, code: string): Promise<void> {
        const before = process.memoryUsage().rss;
        const r = await runCase(bytes);
        assert.equal(r.failure, undefined);
        assert.equal(r.outcome, `rejected ${code}`);
        const growth = process.memoryUsage().rss - before;
        assert.ok(
          growth < 64 * 1024 * 1024,
          `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB for a ${bytes.length}-byte file`,
        );
      }

      it('section lengths claiming up to 2^64-1 bytes', async () => {
        const header = unsigned.subarray(0, 548);
        for (const [size, code] of [
          [2n ** 64n - 1n, 'length-overflow'],
          [2n ** 63n, 'length-overflow'],
          [2n ** 53n, 'length-overflow'],
          [2n ** 40n, 'section-past-eof'],
          [2n ** 31n, 'section-past-eof'],
          [0xffffffffn, 'section-past-eof'],
        ] as const) {
          const sh = Buffer.alloc(12);
          sh.writeUInt16BE(T.kernel, 0);
          sh.writeBigUInt64BE(size, 4);
          await expectFormatError(concat(header, sh), code);
          await expectFormatError(concat(header, sh, new Uint8Array(100)), code);
          // The same lie in a later section of a real file.
          const b = Buffer.from(unsigned);
          b.writeBigUInt64BE(size, 597 + 4);
          await expectFormatError(new Uint8Array(b), code);
        }
      });

      it('a header table claiming huge offsets and sizes is a problem, not an allocation', async () => {
        const b = Buffer.from(unsigned);
        for (let i = 0; i < 32; i++) {
          b.writeBigUInt64BE(2n ** 64n - 1n - BigInt(i), 28 + 8 * i);
          b.writeBigUInt64BE(2n ** 63n + BigInt(i), 284 + 8 * i);
        }
        b.writeUInt16BE(0xffff, 26);
        const before = process.memoryUsage().rss;
        const r = await inspectEifSource(new MemoryByteSource(new Uint8Array(b)), nodeEifPorts);
        assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
        assert.ok(r.layout.problems.some((p) => p.code === 'section-count' && p.offset === 26));
        // Offset and size entries of the 5 real sections (10), one per unused entry (27).
        assert.equal(r.layout.problems.filter((p) => p.code === 'table-mismatch').length, 10 + 27);
        assert.equal(malformed(r, new Uint8Array(b)), undefined);
      });

      it('CBOR heads claiming 2^32-1 or 2^64-1 items in a small signature section', async () => {
        const huge = [
          cborHead(4, 0xffffffff),
          cborHead(4, 2n ** 64n - 1n),
          cborHead(2, 2n ** 64n - 1n),
          cborHead(5, 0xffffffff),
        ];
        const sections: Uint8Array[] = [];
        for (const h of huge) {
          sections.push(concat(h, new Uint8Array(8)));
          // Inside an otherwise well-formed entry: the certificate "array" claims the huge length.
          sections.push(
            concat(Uint8Array.of(0x81, 0xa2, 0x73), ascii('signing_certificate'), h, Uint8Array.of(0x01, 0x02)),
          );
          sections.push(
            concat(
              Uint8Array.of(0x81, 0xa2, 0x73),
              ascii('signing_certificate'),
              cborHead(4, cert.length),
              ...Array.from(cert, (x) => cborHead(0, x)),
              Uint8Array.of(0x69),
              ascii('signature'),
              h,
            ),
          );
        }
        for (const [i, data] of sections.entries()) {
          const bytes = buildEif([
            ...parseEif(unsigned).sections.map((s) => ({ type: s.type, data: s.data })),
            { type: T.signature, data },
          ]);
          const before = process.memoryUsage().rss;
          const r = await inspectEifSource(new MemoryByteSource(bytes), nodeEifPorts);
          const growth = process.memoryUsage().rss - before;
          assert.ok(growth < 64 * 1024 * 1024, `case ${i}: RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
          assert.ok('error' in r.describe, `case ${i}: describe should fail`);
          assert.equal(r.describe.error.code, 'bad-signature-section', `case ${i}: ${r.describe.error.message}`);
          assert.equal(malformed(r, bytes), undefined);
        }
      });

      it('signature and metadata sections over 1 MiB are not decoded', async () => {
        const big = new Uint8Array(1024 * 1024 + 1).fill(0x20);
        for (const type of [T.signature, T.metadata]) {
          const sections = parseEif(unsigned).sections.map((s) => ({ type: s.type, data: s.data }));
          const bytes = buildEif([...sections.filter((s) => s.type !== type), { type, data: big }]);
          const r = await inspectEifSource(new MemoryByteSource(bytes), nodeEifPorts);
          assert.ok('error' in r.describe);
          assert.equal(r.describe.error.code, 'section-too-large');
          assert.equal(r.describe.error.offset, 889 - (type === T.metadata ? 250 : 0));
          assert.equal(malformed(r, bytes), undefined);
        }
      });
    });
  });
}
