// Files written by the engine's writer (writeEif, signEifFile) read back identically: every check
// of the written bytes is made here with an independent walker, node:crypto and zlib (helpers.ts);
// then the engine's reader must agree, at several chunk sizes.
import * as assert from 'node:assert/strict';
import { X509Certificate, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CancelledError,
  MemoryByteSource,
  encodeMetadata,
  inspectEifSource,
  planMeasurement,
  readLayout,
  runPlan,
  type CancellationLike,
  type EifArch,
} from '../../../../src/engine';
import {
  FileByteSource,
  SigningError,
  inspectEif,
  nodeEifPorts,
  nodeHashes,
  signEifFile,
  writeEif,
  type SectionInput,
  type WriteEifResult,
} from '../../../../src/engine/node';
import {
  CURVES,
  Prng,
  T,
  ascii,
  buildEif,
  caught,
  decodeSigSection,
  eifCrc,
  ensureOpenssl,
  expectedPcrs,
  hex,
  makeSigner,
  parseEif,
  partialFiles,
  pcr0PayloadBytes,
  pcrHex,
  removeDir,
  sigStructureBytes,
  tempDir,
  type Curve,
  type ParsedEif,
  type Signer,
} from './helpers';

interface Input {
  readonly type: number;
  readonly data: Uint8Array;
}

interface Case {
  readonly seed: number;
  readonly arch: EifArch;
  readonly version: number;
  readonly sections: Input[];
  readonly curve?: Curve;
}

const KiB = 1024;
const MiB = 1024 * KiB;

function metadataBytes(rng: Prng): Uint8Array {
  return encodeMetadata({
    ImageName: `image-${rng.int(0, 1e6)}`,
    ImageVersion: `${rng.int(0, 9)}.${rng.int(0, 9)}`,
    BuildMetadata: {
      BuildTime: '2024-01-01T00:00:00+00:00',
      BuildTool: 'test',
      BuildToolVersion: '0',
      OperatingSystem: 'OS',
      KernelVersion: 'kernel',
    },
    DockerInfo: null,
    CustomMetadata: rng.next() < 0.5 ? null : { seed: rng.seed },
  });
}

/** A random image: 1-4 ramdisks, sizes from 0 bytes to a few hundred KiB, both architectures. */
function makeCase(seed: number, curve: Curve | undefined): Case {
  const rng = new Prng(seed);
  const size = () => rng.pick([0, 1, rng.int(2, 100), rng.int(100, 4 * KiB), rng.int(4 * KiB, 300 * KiB)]);
  const version = rng.pick([4, 4, 4, 3, 2]);
  const ramdisks = Array.from({ length: rng.int(1, 4) }, (_, i) => ({
    type: T.ramdisk,
    // The first ramdisk is never empty here: that case is its own test below (it found an engine bug, now fixed).
    data: rng.bytes(i === 0 ? Math.max(1, size()) : size()),
  }));
  const sections: Input[] = [
    { type: T.kernel, data: rng.bytes(size()) },
    { type: T.cmdline, data: ascii('console=ttyS0 '.repeat(rng.int(0, 10)).trim()) },
    ...ramdisks,
  ];
  // v4 needs metadata; builders put it third, but any place after the kernel is valid.
  if (version === 4)
    sections.splice(rng.pick([2, 2, sections.length]), 0, { type: T.metadata, data: metadataBytes(rng) });
  // A version 2 image cannot carry a signature.
  return {
    seed,
    arch: rng.next() < 0.5 ? 'x86_64' : 'aarch64',
    version,
    sections,
    ...(curve && version >= 3 ? { curve } : {}),
  };
}

const toSectionInputs = (inputs: readonly Input[]): SectionInput[] =>
  inputs.map((s) => ({ type: s.type, data: s.data }));

/** Checks a written file with the independent walker; returns the parse. */
function checkWritten(
  bytes: Uint8Array,
  c: {
    arch: EifArch;
    version: number;
    sections: readonly Input[];
    signer?: Signer | undefined;
    defaultMem?: bigint;
    defaultCpus?: bigint;
  },
  result?: WriteEifResult,
): ParsedEif {
  const p = parseEif(bytes);
  const expectedTypes = [
    ...c.sections.map((s) => s.type),
    ...(c.signer && !c.sections.some((s) => s.type === T.signature) ? [T.signature] : []),
  ];
  assert.equal(p.magic, '.eif');
  assert.equal(p.version, c.version);
  assert.equal(p.flags, c.arch === 'aarch64' ? 1 : 0);
  assert.equal(p.defaultMem, c.defaultMem ?? 1073741824n);
  assert.equal(p.defaultCpus, c.defaultCpus ?? 2n);
  assert.equal(p.reserved, 0);
  assert.equal(p.unused, 0);
  assert.equal(p.walkEnd, bytes.length, 'no trailing bytes');
  assert.deepEqual(
    p.sections.map((s) => s.type),
    expectedTypes,
  );
  assert.equal(p.numSections, expectedTypes.length);
  // Section data identical to the input (signature sections are checked separately).
  let i = 0;
  for (const s of p.sections) {
    const input = c.sections[i++];
    if (s.type !== T.signature)
      assert.equal(Buffer.compare(s.data, input?.data ?? new Uint8Array(0)), 0, `section ${i - 1} data`);
    assert.equal(s.flags, 0);
  }
  // The header table: offsets of the section headers, data sizes, zeros after.
  let at = 548;
  for (let k = 0; k < 32; k++) {
    const s = p.sections[k];
    assert.equal(p.offsets[k], s ? BigInt(at) : 0n, `offset table ${k}`);
    assert.equal(p.sizes[k], s ? BigInt(s.size) : 0n, `size table ${k}`);
    if (s) {
      assert.equal(s.headerOffset, at);
      at += 12 + s.size;
    }
  }
  assert.equal(at, bytes.length);
  assert.equal(p.crc, eifCrc(bytes), 'CRC field = zlib.crc32(file[0:544] ++ file[548:])');
  const pcrs = expectedPcrs(p.sections);
  assert.deepEqual(expectedPcrs(c.sections), pcrs, 'PCRs of the input equal PCRs of the written sections');
  if (result) {
    assert.equal(result.size, bytes.length);
    assert.equal(result.crc, p.crc);
    assert.equal(result.measurements.PCR0, pcrs.PCR0);
    assert.equal(result.measurements.PCR1, pcrs.PCR1);
    assert.equal(result.measurements.PCR2, pcrs.PCR2);
    assert.equal(result.measurements.HashAlgorithm, 'Sha384 { ... }');
  }
  const sigs = p.sections.filter((s) => s.type === T.signature);
  if (c.signer) {
    assert.equal(sigs.length, 1);
    checkSignatureSection((sigs[0] as { data: Uint8Array }).data, c.signer, pcrs.PCR0);
    if (result) assert.equal(result.measurements.PCR8, pcrHex(c.signer.certDer));
  } else {
    assert.equal(sigs.length, 0);
    if (result) assert.equal(result.measurements.PCR8, undefined);
  }
  return p;
}

/** The signature section: the PEM file, an untagged COSE_Sign1 over "PCR0 = pcr0", verified with node:crypto. */
function checkSignatureSection(section: Uint8Array, signer: Signer, pcr0Hex: string): void {
  const d = decodeSigSection(section);
  assert.deepEqual(d.keys, ['signing_certificate', 'signature']);
  assert.equal(Buffer.from(d.certFile).toString('utf8'), signer.certPem);
  assert.equal(d.coseBytes[0], 0x84, 'untagged COSE_Sign1 array(4)');
  assert.equal(hex(d.cose.protectedBytes), CURVES[signer.curve].protectedHex);
  assert.ok(d.unprotected instanceof Map && d.unprotected.size === 0, 'empty unprotected header');
  assert.equal(hex(d.cose.payload), hex(pcr0PayloadBytes(Buffer.from(pcr0Hex, 'hex'))));
  assert.equal(d.cose.signature.length, CURVES[signer.curve].sigLen);
  const key = new X509Certificate(signer.certPem).publicKey;
  assert.ok(
    nodeVerify(
      CURVES[signer.curve].hash,
      sigStructureBytes(d.cose.protectedBytes, d.cose.payload),
      { key, dsaEncoding: 'ieee-p1363' },
      d.cose.signature,
    ),
    'COSE signature verifies',
  );
}

/**
 * The engine's reader must agree with the independent parse:
 * from the file (default chunk and 4096), and from memory at the given chunk sizes.
 */
async function checkEngineReads(
  file: string,
  bytes: Uint8Array,
  p: ParsedEif,
  signer: Signer | undefined,
  chunkSizes: readonly number[],
): Promise<void> {
  const pcrs = expectedPcrs(p.sections);
  const check = async (label: string, r: Awaited<ReturnType<typeof inspectEif>>) => {
    assert.deepEqual(r.layout.problems, [], label);
    assert.equal(r.layout.fileSize, bytes.length, label);
    assert.deepEqual(
      r.layout.sections.map((s) => [s.type, s.headerOffset, s.size]),
      p.sections.map((s) => [s.type, s.headerOffset, s.size]),
      label,
    );
    assert.deepEqual(r.layout.header.sectionOffsets, p.offsets, label);
    assert.deepEqual(r.layout.header.sectionSizes, p.sizes, label);
    assert.equal(r.layout.header.arch, p.flags & 1 ? 'aarch64' : 'x86_64', label);
    assert.deepEqual(r.crc, { stored: p.crc, computed: p.crc, ok: true }, label);
    assert.equal(r.measurements.PCR0, pcrs.PCR0, label);
    assert.equal(r.measurements.PCR1, pcrs.PCR1, label);
    assert.equal(r.measurements.PCR2, pcrs.PCR2, label);
    assert.equal(r.measurements.PCR8, signer ? pcrHex(signer.certDer) : undefined, label);
    assert.ok(
      'json' in r.describe,
      `${label}: describe fails: ${'error' in r.describe ? r.describe.error.message : ''}`,
    );
    assert.equal(r.describe.json.IsSigned, signer !== undefined, label);
    assert.equal(r.describe.json.CheckCRC, true, label);
    if (signer) {
      assert.equal(r.describe.json.SignatureCheck, true, label);
      assert.equal(r.signature?.cose?.valid, true, label);
      assert.equal(
        r.signature?.cose?.algorithm,
        { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[signer.curve],
        label,
      );
      assert.equal(r.signature?.payloadMatchesPcr0, true, label);
      assert.equal(r.signature?.certificateValid, true, label);
    } else {
      assert.equal(r.describe.json.SignatureCheck, undefined, label);
    }
  };
  await check('inspectEif default chunk', await inspectEif(file));
  await check('inspectEif chunk 4096', await inspectEif(file, { chunkSize: 4096 }));
  for (const chunkSize of chunkSizes) {
    await check(
      `inspectEifSource(memory) chunk ${chunkSize}`,
      await inspectEifSource(new MemoryByteSource(bytes), nodeEifPorts, { chunkSize }),
    );
  }
}

describe('(unit) EIF write/read round trip', function () {
  this.timeout(120_000);
  let dir: string;
  const signers = {} as Record<Curve, Signer>;
  let otherP384: Signer;

  before(() => {
    ensureOpenssl();
    dir = tempDir('roundtrip');
    for (const c of Object.keys(CURVES) as Curve[]) signers[c] = makeSigner(dir, c);
    otherP384 = makeSigner(dir, 'P-384', 'other-P-384');
  });
  after(() => removeDir(dir));

  describe('random images from writeEif', () => {
    const curves: (Curve | undefined)[] = [undefined, 'P-256', 'P-384', 'P-521'];
    const cases = Array.from({ length: 16 }, (_, n) => makeCase(0x1000 + n, curves[n % curves.length]));

    it(
      'the seeded cases cover both architectures, versions 2-4, ' +
        '1-4 ramdisks, every curve, 0-byte and >200 KiB sections',
      () => {
        assert.deepEqual(new Set(cases.map((c) => c.arch)), new Set(['x86_64', 'aarch64']));
        assert.deepEqual(new Set(cases.map((c) => c.version)), new Set([2, 3, 4]));
        assert.deepEqual(
          new Set(cases.map((c) => c.sections.filter((s) => s.type === T.ramdisk).length)),
          new Set([1, 2, 3, 4]),
        );
        assert.deepEqual(new Set(cases.map((c) => c.curve)), new Set([undefined, 'P-256', 'P-384', 'P-521']));
        const sizes = cases.flatMap((c) => c.sections.map((s) => s.data.length));
        assert.ok(sizes.includes(0), 'a 0-byte section');
        assert.ok(
          sizes.some((n) => n > 200 * KiB),
          'a section over 200 KiB',
        );
      },
    );

    for (const c of cases) {
      const seed = c.seed;
      it(
        `seed ${seed}: v${c.version} ${c.arch}, ${c.sections.filter((s) => s.type === T.ramdisk).length} ` +
          `ramdisk(s), ${c.curve ? `signed ${c.curve}` : 'unsigned'}`,
        async () => {
          const signer = c.curve ? signers[c.curve] : undefined;
          const file = path.join(dir, `case-${seed}.eif`);
          const result = await writeEif(file, {
            arch: c.arch,
            version: c.version,
            sections: toSectionInputs(c.sections),
            ...(signer ? { signing: { certificatePem: signer.certPem, privateKeyPem: signer.keyPem } } : {}),
          });
          const bytes = new Uint8Array(readFileSync(file));
          const p = checkWritten(bytes, { ...c, signer }, result);
          await checkEngineReads(file, bytes, p, signer, bytes.length < 400 * KiB ? [7, 4096] : [4093, 65537]);
        },
      );
    }
  });

  it('a multi-MiB image crosses the 4 MiB default chunk and odd chunk boundaries', async () => {
    const rng = new Prng(0xb16);
    const c = {
      arch: 'x86_64' as const,
      version: 4,
      sections: [
        { type: T.kernel, data: rng.bytes(1536 * KiB + 3) },
        { type: T.cmdline, data: ascii('console=ttyS0') },
        { type: T.metadata, data: metadataBytes(rng) },
        { type: T.ramdisk, data: rng.bytes(2 * MiB + 17) },
        { type: T.ramdisk, data: rng.bytes(2 * MiB + 511 * KiB) },
      ],
    };
    const signer = signers['P-384'];
    const file = path.join(dir, 'big.eif');
    const result = await writeEif(file, {
      ...c,
      sections: toSectionInputs(c.sections),
      signing: { certificatePem: signer.certPem, privateKeyPem: signer.keyPem },
    });
    const bytes = new Uint8Array(readFileSync(file));
    assert.ok(bytes.length > 4 * MiB + 1);
    const p = checkWritten(bytes, { ...c, signer }, result);
    await checkEngineReads(file, bytes, p, signer, [1_000_003]);
    // runPlan directly over the file with a chunk that does not divide anything.
    const source = await FileByteSource.open(file);
    try {
      const m = await runPlan(source, planMeasurement(await readLayout(source)), nodeHashes, { chunkSize: 65_521 });
      assert.deepEqual(m.pcrs, expectedPcrs(p.sections));
      assert.equal(m.crc, p.crc);
    } finally {
      await source.close();
    }
  });

  it('PCR2 hashed on the worker thread (>= 16 MiB of later ramdisks) equals the single-thread value', async () => {
    const rng = new Prng(0x3a3a);
    const pattern = Buffer.from(rng.bytes(4099));
    const big = Buffer.alloc(17 * MiB + 5);
    big.fill(pattern);
    big.set(rng.bytes(64), 9 * MiB); // not purely periodic
    const sections = [
      { type: T.kernel, data: rng.bytes(1000) },
      { type: T.cmdline, data: ascii('x') },
      { type: T.metadata, data: metadataBytes(rng) },
      { type: T.ramdisk, data: rng.bytes(3000) },
      { type: T.ramdisk, data: new Uint8Array(big) },
      { type: T.ramdisk, data: rng.bytes(12345) },
    ];
    const file = path.join(dir, 'worker.eif');
    const result = await writeEif(file, { arch: 'aarch64', sections: toSectionInputs(sections) });
    const bytes = new Uint8Array(readFileSync(file));
    const p = checkWritten(bytes, { arch: 'aarch64', version: 4, sections }, result);
    const expected = expectedPcrs(p.sections);
    const parallel = await inspectEif(file);
    const single = await inspectEif(file, { parallel: false });
    assert.equal(parallel.measurements.PCR2, expected.PCR2);
    assert.equal(single.measurements.PCR2, expected.PCR2);
    assert.equal(parallel.measurements.PCR0, expected.PCR0);
    assert.equal(parallel.measurements.PCR1, expected.PCR1);
  });

  // Regression (an engine bug this suite found, now fixed): when the first ramdisk is empty (the last
  // range feeding PCR1 has length 0) and its offset falls inside a chunk, runPlan's "PCR1 is a prefix of
  // PCR0" path (src/engine/eif/measure.ts) never sees that range as fed: RangeFeed.feed returns on
  // `r.start >= end` before stepping past an empty range that ends the head, so `prefix.done` stays false,
  // the rest of the chunk is never fed to PCR0, and PCR1 falls back to SHA-384 of nothing. Observed
  // (default chunk, 4096): PCR0 = the PCR of kernel+cmdline only, PCR1 = the PCR of empty content
  // (21b9efbc…). Chunk sizes 1 and 7 happen to come out right. Spec 3.2/3.4: PCR0 = kernel, cmdline and
  // every ramdisk; PCR1 = kernel, cmdline and the first ramdisk (here empty); PCR2 = the other ramdisks.
  // The same happens whenever the last section (in file order) feeding PCR1 is empty, e.g. an empty
  // cmdline in an image without ramdisks (fuzz.test.ts finds such splices). writeEif signs the wrong PCR0
  // too.
  it('an empty first ramdisk: PCR0 still covers every ramdisk, PCR1 = kernel + cmdline', async () => {
    const sections = [
      { type: T.kernel, data: ascii('KERNEL') },
      { type: T.cmdline, data: ascii('console=ttyS0') },
      { type: T.metadata, data: metadataBytes(new Prng(1)) },
      { type: T.ramdisk, data: new Uint8Array(0) },
      { type: T.ramdisk, data: ascii('RAMDISK-1') },
    ];
    const expected = expectedPcrs(sections);
    assert.equal(expected.PCR1, pcrHex(ascii('KERNEL'), ascii('console=ttyS0')));
    // An image assembled by the test's own builder, read by the engine at several chunk sizes.
    const bytes = buildEif(sections);
    const failures: string[] = [];
    for (const chunkSize of [1, 7, 4096, undefined]) {
      const r = await inspectEifSource(new MemoryByteSource(bytes), nodeEifPorts, chunkSize ? { chunkSize } : {});
      for (const k of ['PCR0', 'PCR1', 'PCR2'] as const) {
        if (r.measurements[k] !== expected[k])
          failures.push(
            `chunk ${chunkSize ?? 'default'}: ${k} = ${r.measurements[k].slice(0, 16)}…, ` +
              `expected ${expected[k].slice(0, 16)}…`,
          );
      }
    }
    // And what writeEif reports for the same sections.
    const result = await writeEif(path.join(dir, 'empty-ramdisk0.eif'), {
      arch: 'x86_64',
      sections: toSectionInputs(sections),
    });
    for (const k of ['PCR0', 'PCR1', 'PCR2'] as const) {
      if (result.measurements[k] !== expected[k])
        failures.push(
          `writeEif: ${k} = ${result.measurements[k].slice(0, 16)}…, expected ${expected[k].slice(0, 16)}…`,
        );
    }
    // Signing measures PCR0 with the same code, so the signed statement names the wrong PCR0.
    const signer = signers['P-384'];
    const signedFile = path.join(dir, 'empty-ramdisk0-signed.eif');
    await writeEif(signedFile, {
      arch: 'x86_64',
      sections: toSectionInputs(sections),
      signing: { certificatePem: signer.certPem, privateKeyPem: signer.keyPem },
    });
    const sig = parseEif(new Uint8Array(readFileSync(signedFile))).sections.find((s) => s.type === T.signature);
    const payload = decodeSigSection(sig?.data ?? new Uint8Array(0)).cose.payload;
    if (hex(payload) !== hex(pcr0PayloadBytes(Buffer.from(expected.PCR0, 'hex'))))
      failures.push("writeEif with signing: the COSE payload does not state the image's PCR0");
    assert.deepEqual(failures, []);
  });

  describe('signEifFile', () => {
    it(
      'signs an unsigned image by appending a section: ' + 'count +1, earlier sections untouched, PCR0-2 unchanged',
      async () => {
        for (const curve of Object.keys(CURVES) as Curve[]) {
          const c = makeCase(0x2000 + curve.length + curve.charCodeAt(2), undefined);
          const file = path.join(dir, `to-sign-${curve}.eif`);
          const before = await writeEif(file, {
            arch: c.arch,
            version: c.version === 2 ? 3 : c.version,
            sections: toSectionInputs(c.sections),
            defaultMem: 12345n,
            defaultCpus: 7n,
          });
          const oldBytes = new Uint8Array(readFileSync(file));
          const old = parseEif(oldBytes);
          const signer = signers[curve];
          const result = await signEifFile(file, { certificatePem: signer.certPem, privateKeyPem: signer.keyPem });
          const bytes = new Uint8Array(readFileSync(file));
          const p = checkWritten(
            bytes,
            { arch: c.arch, version: old.version, sections: c.sections, signer, defaultMem: 12345n, defaultCpus: 7n },
            result,
          );
          assert.equal(p.numSections, old.numSections + 1, curve);
          assert.equal(p.sections.at(-1)?.type, T.signature);
          // Appended: the old file is a prefix of the new one except the header's count, table and CRC.
          assert.equal(
            Buffer.compare(bytes.subarray(548, oldBytes.length), oldBytes.subarray(548)),
            0,
            `${curve}: sections before the signature unchanged`,
          );
          for (const k of ['PCR0', 'PCR1', 'PCR2'] as const)
            assert.equal(result.measurements[k], before.measurements[k]);
          assert.equal(result.measurements.PCR8, pcrHex(signer.certDer));
          await checkEngineReads(file, bytes, p, signer, [61]);
        }
      },
    );

    it(
      're-signing with another key and curve replaces the ' + 'signature in place; the size table follows (P14)',
      async () => {
        const rng = new Prng(0x5151);
        const sections = [
          { type: T.kernel, data: rng.bytes(5000) },
          { type: T.cmdline, data: ascii('console=ttyS0') },
          { type: T.metadata, data: metadataBytes(rng) },
          { type: T.signature, data: ascii('placeholder, replaced by the writer') },
          { type: T.ramdisk, data: rng.bytes(7000) },
          { type: T.ramdisk, data: rng.bytes(300) },
        ];
        const file = path.join(dir, 'resign.eif');
        const first = signers['P-384'];
        await writeEif(file, {
          arch: 'x86_64',
          sections: toSectionInputs(sections),
          signing: { certificatePem: first.certPem, privateKeyPem: first.keyPem },
        });
        const firstBytes = new Uint8Array(readFileSync(file));
        const p1 = parseEif(firstBytes);
        assert.deepEqual(
          p1.sections.map((s) => s.type),
          [1, 2, 5, 4, 3, 3],
          'the writer keeps the signature where the caller put it',
        );
        checkSignatureSection((p1.sections[3] as { data: Uint8Array }).data, first, expectedPcrs(p1.sections).PCR0);

        for (const signer of [signers['P-521'], signers['P-256'], otherP384]) {
          const prev = parseEif(new Uint8Array(readFileSync(file)));
          const result = await signEifFile(file, { certificatePem: signer.certPem, privateKeyPem: signer.keyPem });
          const bytes = new Uint8Array(readFileSync(file));
          const p = parseEif(bytes);
          assert.deepEqual(
            p.sections.map((s) => s.type),
            [1, 2, 5, 4, 3, 3],
            `${signer.curve}: still one signature section, at the same index`,
          );
          const sig = p.sections[3] as { data: Uint8Array; size: number; headerOffset: number };
          assert.equal(sig.headerOffset, (prev.sections[3] as { headerOffset: number }).headerOffset);
          assert.equal(p.sizes[3], BigInt(sig.size), 'the header size table holds the new signature size (P14)');
          assert.equal(p.numSections, 6);
          for (let k = 0; k < 6; k++) {
            const s = p.sections[k] as { headerOffset: number; size: number; data: Uint8Array };
            assert.equal(p.offsets[k], BigInt(s.headerOffset), `offset table ${k}`);
            assert.equal(p.sizes[k], BigInt(s.size), `size table ${k}`);
            if (k !== 3)
              assert.equal(
                Buffer.compare(s.data, (prev.sections[k] as { data: Uint8Array }).data),
                0,
                `section ${k} data unchanged`,
              );
          }
          assert.equal(p.crc, eifCrc(bytes));
          assert.equal(result.crc, p.crc);
          checkSignatureSection(sig.data, signer, expectedPcrs(p.sections).PCR0);
          assert.equal(result.measurements.PCR8, pcrHex(signer.certDer));
          assert.equal(result.measurements.PCR0, expectedPcrs(p1.sections).PCR0);
          await checkEngineReads(file, bytes, p, signer, [7]);
        }
      },
    );

    it('with outPath, writes the signed copy there and leaves the input as it was', async () => {
      const c = makeCase(0x3003, undefined);
      const file = path.join(dir, 'in.eif');
      const out = path.join(dir, 'out.eif');
      await writeEif(file, {
        arch: c.arch,
        version: 4,
        sections: toSectionInputs(
          c.version === 4 ? c.sections : [...c.sections, { type: T.metadata, data: metadataBytes(new Prng(3)) }],
        ),
      });
      const original = readFileSync(file);
      const signer = signers['P-256'];
      await signEifFile(file, { certificatePem: signer.certPem, privateKeyPem: signer.keyPem, outPath: out });
      assert.equal(Buffer.compare(readFileSync(file), original), 0);
      const p = parseEif(new Uint8Array(readFileSync(out)));
      assert.equal(p.sections.at(-1)?.type, T.signature);
      assert.equal(p.crc, eifCrc(new Uint8Array(readFileSync(out))));
    });

    it('a key that does not match the certificate fails closed: no output, input untouched, no temp file', async () => {
      const sub = path.join(dir, 'mismatch');
      mkdirSync(sub);
      const c = makeCase(0x4004, undefined);
      const file = path.join(sub, 'unsigned.eif');
      await writeEif(file, { arch: c.arch, version: c.version, sections: toSectionInputs(c.sections) });
      const signedFile = path.join(sub, 'signed.eif');
      const s384 = signers['P-384'];
      await writeEif(signedFile, {
        arch: 'x86_64',
        sections: toSectionInputs(makeCase(0x4005, undefined).sections),
        signing: { certificatePem: s384.certPem, privateKeyPem: s384.keyPem },
      });
      const cases: [string, string, string][] = [
        ['same curve, other key', s384.certPem, otherP384.keyPem],
        ['P-256 key, P-384 certificate', s384.certPem, signers['P-256'].keyPem],
        ['P-521 key, P-256 certificate', signers['P-256'].certPem, signers['P-521'].keyPem],
      ];
      for (const target of [file, signedFile]) {
        const original = readFileSync(target);
        for (const [label, certificatePem, privateKeyPem] of cases) {
          const out = path.join(sub, 'out.eif');
          const e = await caught(() => signEifFile(target, { certificatePem, privateKeyPem, outPath: out }));
          assert.ok(e instanceof SigningError, `${label}: ${String(e)}`);
          assert.match(e.message, /does not match the signing certificate/, label);
          assert.equal(existsSync(out), false, `${label}: no output file`);
          const e2 = await caught(() => signEifFile(target, { certificatePem, privateKeyPem }));
          assert.ok(e2 instanceof SigningError, `${label}: ${String(e2)}`);
          assert.equal(Buffer.compare(readFileSync(target), original), 0, `${label}: input untouched`);
          assert.deepEqual(partialFiles(sub), [], label);
        }
      }
      assert.deepEqual(readdirSync(sub).sort(), ['signed.eif', 'unsigned.eif']);
    });
  });

  describe('writeEif is atomic', () => {
    const cancelOnFirstProgress = () => {
      let cancelled = false;
      let progressCalls = 0;
      const token: CancellationLike = {
        get isCancellationRequested() {
          return cancelled;
        },
        onCancellationRequested: () => ({ dispose() {} }),
      };
      return {
        token,
        onProgress: () => {
          progressCalls++;
          cancelled = true;
        },
        get calls() {
          return progressCalls;
        },
      };
    };

    for (const [label, big, signed] of [
      ['small unsigned', false, false],
      ['multi-chunk unsigned', true, false],
      ['multi-chunk signed', true, true],
    ] as const) {
      it(`cancelling on the first progress callback (${label}) throws and leaves no file and no .partial`, async () => {
        const sub = path.join(dir, `cancel-${label.replace(/ /g, '-')}`);
        mkdirSync(sub);
        const rng = new Prng(0xca + Number(big));
        const sections = toSectionInputs([
          { type: T.kernel, data: rng.bytes(big ? 5 * MiB : 100) },
          { type: T.cmdline, data: ascii('c') },
          { type: T.metadata, data: metadataBytes(rng) },
          { type: T.ramdisk, data: rng.bytes(big ? 1 * MiB : 10) },
        ]);
        const target = path.join(sub, 'image.eif');
        const cancel = cancelOnFirstProgress();
        const signer = signers['P-384'];
        const e = await caught(() =>
          writeEif(target, {
            arch: 'x86_64',
            sections,
            token: cancel.token,
            onProgress: cancel.onProgress,
            ...(signed ? { signing: { certificatePem: signer.certPem, privateKeyPem: signer.keyPem } } : {}),
          }),
        );
        assert.ok(e instanceof CancelledError, String(e));
        assert.ok(cancel.calls >= 1);
        assert.deepEqual(readdirSync(sub), [], 'no file, no .partial temp file');
      });
    }

    it('cancelling while replacing an existing file leaves the old file in place', async () => {
      const sub = path.join(dir, 'cancel-replace');
      mkdirSync(sub);
      const target = path.join(sub, 'image.eif');
      const original = Buffer.from(new Prng(0x6006).bytes(1000));
      writeFileSync(target, original);
      const cancel = cancelOnFirstProgress();
      const sections = toSectionInputs([
        { type: T.kernel, data: new Uint8Array(5 * MiB) },
        { type: T.cmdline, data: ascii('c') },
        { type: T.metadata, data: metadataBytes(new Prng(6)) },
        { type: T.ramdisk, data: ascii('r') },
      ]);
      const e = await caught(() =>
        writeEif(target, { arch: 'x86_64', sections, token: cancel.token, onProgress: cancel.onProgress }),
      );
      assert.ok(e instanceof CancelledError, String(e));
      assert.equal(Buffer.compare(readFileSync(target), original), 0);
      assert.deepEqual(readdirSync(sub), ['image.eif']);
    });

    it('a successful write leaves exactly the target (no temp file)', async () => {
      const sub = path.join(dir, 'ok-write');
      mkdirSync(sub);
      writeFileSync(path.join(sub, 'image.eif'), 'old content');
      await writeEif(path.join(sub, 'image.eif'), {
        arch: 'x86_64',
        version: 3,
        sections: toSectionInputs(makeCase(0x7007, undefined).sections.filter((s) => s.type !== T.metadata)),
      });
      assert.deepEqual(readdirSync(sub), ['image.eif']);
      assert.equal(readFileSync(path.join(sub, 'image.eif')).subarray(0, 4).toString('latin1'), '.eif');
    });
  });
});
