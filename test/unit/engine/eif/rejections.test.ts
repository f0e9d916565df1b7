// One test per rule of the EIF reader: each broken file is assembled by the test's own builder
// (helpers.buildEif, checked below to reproduce the unsigned fixture byte for byte), and the
// reader must name the rule (typed `code`) and the offending offset and value.
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  EifFormatError,
  MemoryByteSource,
  inspectEifSource,
  readLayout,
  type EifErrorCode,
  type EifInspection,
  type EifLayout,
  type EifProblem,
} from '../../../../src/engine';
import { nodeEifPorts } from '../../../../src/engine/node';
import { repoPath } from '../../repo';
import {
  T,
  ascii,
  buildEif,
  cborHead,
  caught,
  concat,
  coseSign,
  eifCrc,
  encodeCose,
  encodeSigSection,
  expectedPcrs,
  derAt,
  derKids,
  pcr0PayloadBytes,
  pcrHex,
  SPEC_METADATA,
  type RawSection,
} from './helpers';

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const certPem = readFileSync(`${FIXTURES}/test-cert.pem`, 'utf8');
const keyPem = readFileSync(`${FIXTURES}/test-key.pem`, 'utf8');
const certDer = new Uint8Array(new X509Certificate(certPem).raw);

const K = ascii('KERNEL-DUMMY');
const C = ascii('console=ttyS0');
const R0 = ascii('RAMDISK-0');
const R1 = ascii('RAMDISK-1');
/** The unsigned fixture's sections: kernel, cmdline, metadata, two ramdisks (offsets 548, 572, 597, 847, 868). */
const base = (metadata = SPEC_METADATA): RawSection[] => [
  { type: T.kernel, data: K },
  { type: T.cmdline, data: C },
  { type: T.metadata, data: ascii(metadata) },
  { type: T.ramdisk, data: R0 },
  { type: T.ramdisk, data: R1 },
];
const BASE_PCRS = expectedPcrs(base());
const PCR0 = Buffer.from(BASE_PCRS.PCR0, 'hex');

/** A signed image: base sections plus a signature section (defaults: the fixture cert, a valid ES384 COSE). */
function signedImage(o: { cert?: Uint8Array; cose?: Uint8Array; section?: Uint8Array } = {}): Uint8Array {
  const cose = o.cose ?? encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0)));
  const sig = o.section ?? encodeSigSection(o.cert ?? ascii(certPem), cose);
  return buildEif([...base(), { type: T.signature, data: sig }]);
}
const SIG_DATA_OFFSET = 889 + 12;

const mem = (bytes: Uint8Array) => new MemoryByteSource(bytes, 'test.eif');
const layoutOf = (bytes: Uint8Array): Promise<EifLayout> => readLayout(mem(bytes));
const inspect = (bytes: Uint8Array): Promise<EifInspection> => inspectEifSource(mem(bytes), nodeEifPorts);

/** readLayout and inspectEifSource both reject with this code at this offset, naming these values. */
async function rejects(
  bytes: Uint8Array,
  code: EifErrorCode,
  offset: number,
  ...mentions: (string | RegExp)[]
): Promise<EifFormatError> {
  let first: EifFormatError | undefined;
  for (const run of [() => layoutOf(bytes), () => inspect(bytes)]) {
    const e = await caught(run);
    assert.ok(e instanceof EifFormatError, `expected EifFormatError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.offset, offset, e.message);
    assert.ok(e.message.includes(`at byte ${offset}`), e.message);
    for (const m of mentions) {
      if (typeof m === 'string') assert.ok(e.message.includes(m), `message lacks "${m}": ${e.message}`);
      else assert.match(e.message, m);
    }
    first ??= e;
  }
  return first as EifFormatError;
}

/** The layout has exactly one problem with this code (and these properties). */
function problem(
  layout: EifLayout,
  code: EifErrorCode,
  severity: EifProblem['severity'],
  offset: number,
  ...mentions: (string | RegExp)[]
): EifProblem {
  const found = layout.problems.filter((p) => p.code === code && p.offset === offset);
  assert.equal(found.length, 1, `problems: ${JSON.stringify(layout.problems, null, 1)}`);
  const p = found[0] as EifProblem;
  assert.equal(p.severity, severity);
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(p.message.includes(m), `message lacks "${m}": ${p.message}`);
    else assert.match(p.message, m);
  }
  return p;
}

/** A copy of `bytes` with the given big-endian fields patched (CRC left as it was unless fixCrc). */
function patch(
  bytes: Uint8Array,
  edits: { at: number; u16?: number; u32?: number; u64?: bigint; raw?: Uint8Array }[],
  fixCrc = true,
): Uint8Array {
  const b = Buffer.from(bytes);
  for (const e of edits) {
    if (e.u16 !== undefined) b.writeUInt16BE(e.u16, e.at);
    if (e.u32 !== undefined) b.writeUInt32BE(e.u32, e.at);
    if (e.u64 !== undefined) b.writeBigUInt64BE(e.u64, e.at);
    if (e.raw) Buffer.from(e.raw).copy(b, e.at);
  }
  if (fixCrc) b.writeUInt32BE(eifCrc(b), 544);
  return new Uint8Array(b);
}

/** inspectEifSource must resolve; a rejection fails the test naming what was thrown. */
async function inspectResolves(bytes: Uint8Array): Promise<EifInspection> {
  try {
    return await inspect(bytes);
  } catch (e) {
    assert.fail(`inspectEifSource rejected with ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

/** The describe-eif failure of an inspection that otherwise succeeded. */
function describeError(r: EifInspection): EifFormatError {
  assert.ok(
    'error' in r.describe,
    `describe did not fail: ${JSON.stringify('json' in r.describe ? r.describe.json : undefined)}`,
  );
  return r.describe.error;
}

/** Layout and PCRs are still reported when describe fails. */
function stillMeasured(r: EifInspection, sections = 6): void {
  assert.equal(r.layout.sections.length, sections);
  assert.equal(r.measurements.PCR0, BASE_PCRS.PCR0);
  assert.equal(r.measurements.PCR1, BASE_PCRS.PCR1);
  assert.equal(r.measurements.PCR2, BASE_PCRS.PCR2);
}

const toPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END CERTIFICATE-----\n`;

describe('(unit) EIF rejections', () => {
  const UNSIGNED = buildEif(base());

  it('the test builder reproduces the unsigned fixture byte for byte (control)', async () => {
    assert.equal(Buffer.compare(UNSIGNED, readFileSync(`${FIXTURES}/synthetic-v4-unsigned.eif`)), 0);
    const r = await inspect(UNSIGNED);
    assert.deepEqual(r.layout.problems, []);
    assert.equal(r.crc.ok, true);
    const s = await inspect(signedImage());
    assert.deepEqual(s.layout.problems, []);
    assert.ok('json' in s.describe);
    assert.equal(s.describe.json.SignatureCheck, true);
    assert.equal(s.measurements.PCR8, pcrHex(certDer));
  });

  describe('files that cannot be walked (EifFormatError)', () => {
    it('short file: fewer than 548 bytes, including 0', async () => {
      for (const n of [0, 1, 12, 100, 547]) {
        await rejects(UNSIGNED.subarray(0, n), 'short-file', n, `is ${n} bytes`, '548');
      }
    });

    it('exactly the 548-byte header walks, with the missing sections as problems', async () => {
      const l = await layoutOf(UNSIGNED.subarray(0, 548));
      assert.equal(l.sections.length, 0);
      problem(l, 'table-mismatch', 'error', 26, 'says the file has 5 sections, but 0 follow');
      problem(l, 'missing-kernel', 'error', 548);
    });

    it('bad magic', async () => {
      await rejects(patch(UNSIGNED, [{ at: 0, raw: ascii('EIF\0') }]), 'bad-magic', 0, '45 49 46 00', '2e 65 69 66');
      await rejects(new Uint8Array(600), 'bad-magic', 0, '00 00 00 00');
      await rejects(patch(UNSIGNED, [{ at: 3, raw: Uint8Array.of(0x46) }]), 'bad-magic', 0, '2e 65 69 46');
    });

    it('unsupported version (5, 1, 0, 0xffff)', async () => {
      for (const v of [5, 1, 0, 0xffff]) {
        await rejects(patch(UNSIGNED, [{ at: 4, u16: v }]), 'unsupported-version', 4, `version ${v} `);
      }
    });

    it('a version that reads as 2, 3 or 4 byte-swapped is a byte-order hint (P24)', async () => {
      for (const v of [0x0400, 0x0300, 0x0200]) {
        await rejects(
          patch(UNSIGNED, [{ at: 4, u16: v }]),
          'byte-order',
          4,
          `reads ${v} (0x0${(v >> 8).toString(16)}00)`,
          `version ${v >> 8} in little-endian`,
        );
      }
    });

    it('section type 0 and 6 (and 0xffff)', async () => {
      for (const t of [0, 6, 0xffff]) {
        // Section 3 (the first ramdisk) has its header at byte 847.
        await rejects(patch(UNSIGNED, [{ at: 847, u16: t }]), 'invalid-section-type', 847, `section 3 has type ${t},`);
      }
    });

    it('a section extending past the end of the file', async () => {
      // The last ramdisk (header at 868) holds 9 bytes; claim 10.
      await rejects(
        patch(UNSIGNED, [{ at: 872, u64: 10n }]),
        'section-past-eof',
        872,
        'section 4 (ramdisk) says it holds 10 bytes',
        'only 9 bytes follow',
      );
      // The kernel claims the whole file.
      await rejects(
        patch(UNSIGNED, [{ at: 552, u64: 889n }]),
        'section-past-eof',
        552,
        'section 0 (kernel) says it holds 889 bytes',
        'only 329 bytes follow',
      );
      // And a file cut in the middle of a section.
      await rejects(UNSIGNED.subarray(0, 880), 'section-past-eof', 872, 'holds 9 bytes', 'only 0 bytes follow');
    });

    it('a length field beyond 2^53 is an overflow, not a huge read', async () => {
      for (const size of [2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
        await rejects(patch(UNSIGNED, [{ at: 552, u64: size }]), 'length-overflow', 552, `holds ${size} bytes`);
      }
      // 2^53 - 1 is a safe integer, so only past the end.
      await rejects(
        patch(UNSIGNED, [{ at: 552, u64: 2n ** 53n - 1n }]),
        'section-past-eof',
        552,
        `holds ${2n ** 53n - 1n} bytes`,
      );
    });

    it('more than 32 sections walked', async () => {
      const sections = [
        ...base(),
        ...Array.from({ length: 28 }, (_, i) => ({ type: T.ramdisk, data: ascii(`r${i}`) })),
      ];
      assert.equal(sections.length, 33);
      const bytes = buildEif(sections);
      const offset33 = 548 + sections.slice(0, 32).reduce((n, s) => n + 12 + s.data.length, 0);
      await rejects(bytes, 'section-count', offset33, 'more than 32 sections');
      // 32 sections are fine.
      const ok = await layoutOf(buildEif(sections.slice(0, 32)));
      assert.equal(ok.sections.length, 32);
      assert.deepEqual(ok.problems, []);
    });

    it('12 or more trailing bytes are read as another section', async () => {
      for (const n of [12, 20]) {
        await rejects(concat(UNSIGNED, new Uint8Array(n)), 'invalid-section-type', 889, 'section 5 has type 0');
      }
      // A trailing section header that claims more than follows.
      const sh = Buffer.alloc(12);
      sh.writeUInt16BE(3, 0);
      sh.writeBigUInt64BE(5n, 4);
      await rejects(concat(UNSIGNED, sh), 'section-past-eof', 893, 'section 5 (ramdisk) says it holds 5 bytes');
    });
  });

  describe('files that walk, with problems in the layout', () => {
    it('header num_sections 0 or more than 32', async () => {
      for (const n of [0, 33, 0xffff]) {
        const l = await layoutOf(patch(UNSIGNED, [{ at: 26, u16: n }]));
        problem(l, 'section-count', 'error', 26, `says the file has ${n} sections`);
      }
    });

    it('header num_sections disagreeing with the walk', async () => {
      const l = await layoutOf(patch(UNSIGNED, [{ at: 26, u16: 4 }]));
      problem(l, 'table-mismatch', 'error', 26, 'says the file has 4 sections, but 5 follow');
    });

    it('header offset table disagreeing with the walk', async () => {
      const l = await layoutOf(patch(UNSIGNED, [{ at: 28 + 8 * 2, u64: 600n }]));
      problem(l, 'table-mismatch', 'error', 44, 'section 2 starts at byte 600', 'at byte 597');
      // An entry past the last section.
      const l2 = await layoutOf(patch(UNSIGNED, [{ at: 28 + 8 * 7, u64: 5n }]));
      problem(l2, 'table-mismatch', 'error', 84, 'entry for section 7 (offset 5, size 0)', 'only 5 sections');
    });

    it('header size table disagreeing with the walk: the P14 re-sign shape', async () => {
      // sign-eif of image-format 0.5.0 rewrote the signature section but left its size entry.
      const first = signedImage();
      const oldSize = Number(Buffer.from(first).readBigUInt64BE(284 + 8 * 5));
      let second = signedImage();
      while (second.length === first.length) second = signedImage(); // ECDSA output lengths vary (P1)
      const newSize = second.length - SIG_DATA_OFFSET;
      const stale = patch(second, [{ at: 284 + 8 * 5, u64: BigInt(oldSize) }]);
      const r = await inspect(stale);
      problem(
        r.layout,
        'table-mismatch',
        'error',
        324,
        `section 5 (signature) holds ${oldSize} bytes, but its section header says ${newSize}`,
      );
      assert.equal(r.layout.problems.length, 1);
      // nitro-cli's sequential walk does not notice: the image still describes.
      assert.ok('json' in r.describe);
      assert.equal(r.describe.json.SignatureCheck, true);
    });

    it('missing kernel, cmdline or ramdisk', async () => {
      const cases: [number, EifErrorCode, string][] = [
        [T.kernel, 'missing-kernel', 'no kernel section'],
        [T.cmdline, 'missing-cmdline', 'no kernel command line section'],
        [T.ramdisk, 'missing-ramdisk', 'no ramdisk section'],
      ];
      for (const [type, code, text] of cases) {
        const l = await layoutOf(buildEif(base().filter((s) => s.type !== type)));
        problem(l, code, 'error', 548, text);
        assert.ok(
          l.problems.every((p) => p.code === code),
          JSON.stringify(l.problems),
        );
      }
    });

    it('a ramdisk before the kernel', async () => {
      const [k, c, m, r0, r1] = base() as [RawSection, RawSection, RawSection, RawSection, RawSection];
      const l = await layoutOf(buildEif([r0, k, c, m, r1]));
      problem(l, 'section-order', 'error', 548, 'before the kernel');
    });

    it('v4 without metadata; v2 and v3 without metadata are fine', async () => {
      const noMeta = base().filter((s) => s.type !== T.metadata);
      const l = await layoutOf(buildEif(noMeta, { version: 4 }));
      problem(l, 'missing-metadata', 'error', 4, 'version 4 must have a metadata section');
      for (const version of [2, 3])
        assert.deepEqual((await layoutOf(buildEif(noMeta, { version }))).problems, [], `v${version}`);
    });

    it('fewer than 12 trailing bytes: a warning, left out of the CRC (as nitro-cli)', async () => {
      for (const n of [1, 5, 11]) {
        const r = await inspect(concat(UNSIGNED, new Uint8Array(n).fill(0xab)));
        const p = problem(r.layout, 'trailing-bytes', 'warning', 889, `${n} byte(s) follow the last section`);
        assert.equal(r.layout.problems.length, 1, JSON.stringify(r.layout.problems));
        assert.equal(p.severity, 'warning');
        assert.equal(r.layout.trailingBytes, n);
        assert.equal(r.crc.ok, true, 'the stored CRC (over the file without its tail) still matches');
        assert.ok('json' in r.describe);
        assert.equal(r.describe.json.CheckCRC, true);
      }
    });

    it('non-zero section flags and unknown header flag bits are warnings', async () => {
      const withFlags = buildEif(
        base().map((s, i) => (i === 1 ? { ...s, flags: 0x8000 } : s)),
        { flags: 0x0003 },
      );
      const l = await layoutOf(withFlags);
      problem(l, 'reserved-bits', 'warning', 572 + 2, 'section 1 has flags 0x8000');
      problem(l, 'reserved-bits', 'warning', 6, 'header flags 0x3');
      assert.equal(l.header.arch, 'aarch64');
      assert.ok(l.problems.every((p) => p.severity === 'warning'));
    });

    it('a CRC mismatch is reported as crc.ok === false, not thrown', async () => {
      const flipped = patch(UNSIGNED, [{ at: 547, raw: Uint8Array.of((UNSIGNED[547] as number) ^ 0x01) }], false);
      const r = await inspect(flipped);
      assert.deepEqual(r.crc, { stored: (0xeaee2199 ^ 0x01) >>> 0, computed: 0xeaee2199, ok: false });
      assert.ok('json' in r.describe);
      assert.equal(r.describe.json.CheckCRC, false);
      assert.equal(r.measurements.PCR0, BASE_PCRS.PCR0);
      // Metadata is covered by the CRC but not by any PCR (P3).
      const at = 609 + SPEC_METADATA.indexOf('"test"') + 4;
      const edited = patch(UNSIGNED, [{ at, raw: ascii('T') }], false);
      const r2 = await inspect(edited);
      assert.equal(r2.crc.ok, false);
      assert.equal(r2.crc.computed, eifCrc(edited));
      assert.deepEqual(
        [r2.measurements.PCR0, r2.measurements.PCR1, r2.measurements.PCR2],
        [BASE_PCRS.PCR0, BASE_PCRS.PCR1, BASE_PCRS.PCR2],
      );
      assert.ok('json' in r2.describe);
      assert.equal(r2.describe.json.ImageName, 'tesT');
    });
  });

  describe('metadata that describe-eif cannot read (layout and PCRs still reported)', () => {
    const meta = (edit: (m: Record<string, unknown>) => void): string => {
      const m = JSON.parse(SPEC_METADATA) as Record<string, unknown>;
      edit(m);
      return JSON.stringify(m);
    };
    const cases: [string, string, RegExp][] = [
      ['missing CustomMetadata', meta((m) => delete m['CustomMetadata']), /no "CustomMetadata"/],
      ['missing ImageName', meta((m) => delete m['ImageName']), /no "ImageName"/],
      [
        'BuildTime a number',
        meta((m) => ((m['BuildMetadata'] as Record<string, unknown>)['BuildTime'] = 0)),
        /BuildMetadata\.BuildTime" is missing or not a string/,
      ],
      [
        'KernelVersion missing',
        meta((m) => delete (m['BuildMetadata'] as Record<string, unknown>)['KernelVersion']),
        /BuildMetadata\.KernelVersion/,
      ],
      ['CustomMetadata a number', meta((m) => (m['CustomMetadata'] = 5)), /CustomMetadata" is not a JSON object/],
      ['CustomMetadata a string', meta((m) => (m['CustomMetadata'] = 'x')), /CustomMetadata" is not a JSON object/],
      ['CustomMetadata an array', meta((m) => (m['CustomMetadata'] = [1])), /CustomMetadata" is not a JSON object/],
      ['not JSON', '{"ImageName":', /not valid UTF-8 JSON/],
      ['not an object', '[1,2]', /not a JSON object/],
    ];
    for (const [label, text, reason] of cases) {
      it(label, async () => {
        const r = await inspect(buildEif(base(text)));
        const e = describeError(r);
        assert.equal(e.code, 'bad-metadata');
        assert.equal(e.offset, 609, 'the metadata section data');
        assert.ok(e.message.includes('at byte 609'));
        assert.match(e.message, reason);
        assert.match(r.metadata?.error ?? '', reason);
        assert.equal(r.metadata?.value, undefined);
        assert.deepEqual(r.layout.problems, []);
        assert.equal(r.crc.ok, true);
        stillMeasured(r, 5);
      });
    }

    it('an object CustomMetadata is merged into Metadata (control)', async () => {
      const r = await inspect(buildEif(base(meta((m) => (m['CustomMetadata'] = { Owner: 'me', n: 1 })))));
      assert.ok('json' in r.describe);
      assert.deepEqual(r.describe.json.Metadata, {
        ...JSON.parse(SPEC_METADATA).BuildMetadata,
        DockerInfo: null,
        Owner: 'me',
        n: 1,
      });
    });
  });

  describe('signature sections', () => {
    it('corrupted CBOR', async () => {
      const good = encodeSigSection(ascii(certPem), encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0))));
      for (const section of [
        good.subarray(0, good.length >> 1),
        Uint8Array.of(0xff, 0xff, 0xff),
        concat(good, Uint8Array.of(0)),
        Uint8Array.of(0xa0),
      ]) {
        const r = await inspect(signedImage({ section }));
        const e = describeError(r);
        assert.equal(e.code, 'bad-signature-section', e.message);
        assert.equal(e.offset, SIG_DATA_OFFSET);
        assert.ok(e.message.includes(`at byte ${SIG_DATA_OFFSET}`));
        assert.match(r.signature?.error ?? '', /signature section/);
        stillMeasured(r);
      }
    });

    it('a certificate that is not PEM', async () => {
      for (const [cert, reason] of [
        [ascii('not a certificate'), /no PEM certificate/],
        [certDer, /not UTF-8 text|no PEM certificate/],
        [ascii('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n'), /not valid base64/],
        [ascii(toPem(new Uint8Array(64).fill(7))), /not a valid X\.509 certificate/],
      ] as const) {
        const r = await inspect(signedImage({ cert }));
        const e = describeError(r);
        assert.equal(e.code, 'bad-signature-section', e.message);
        assert.equal(e.offset, SIG_DATA_OFFSET);
        assert.match(e.message, reason);
        stillMeasured(r);
      }
    });

    it('a COSE signature that does not verify fails describe (nitro-cli E35)', async () => {
      const parts = coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0));
      for (const at of [0, 47, 95]) {
        const sig = parts.signature.slice();
        sig[at] = (sig[at] as number) ^ 0x01;
        const r = await inspect(signedImage({ cose: encodeCose({ ...parts, signature: sig }) }));
        const e = describeError(r);
        assert.equal(e.code, 'signature-invalid');
        assert.equal(e.offset, SIG_DATA_OFFSET);
        assert.match(e.message, /does not verify/);
        assert.equal(r.signature?.cose?.valid, false);
        stillMeasured(r);
      }
    });

    it('a COSE alg that does not match the certificate curve', async () => {
      // ES256 in the header, over a P-384 certificate (signed with the P-384 key, so only the alg is wrong).
      const r = await inspect(
        signedImage({
          cose: encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0), Buffer.from('a10126', 'hex'))),
        }),
      );
      const e = describeError(r);
      assert.equal(e.code, 'signature-invalid');
      assert.match(e.message, /algorithm -7/);
      assert.match(e.message, /secp384r1 key needs ES384/);
      // No alg at all.
      const r2 = await inspect(
        signedImage({ cose: encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0), Buffer.from('a0', 'hex'))) }),
      );
      assert.equal(describeError(r2).code, 'signature-invalid');
    });

    it('a valid signature over a different PCR0: SignatureCheck false, describe succeeds', async () => {
      const other = Buffer.from(pcrHex(ascii('another image')), 'hex');
      const r = await inspect(signedImage({ cose: encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(other))) }));
      assert.ok('json' in r.describe, 'describe succeeds');
      assert.equal(r.describe.json.IsSigned, true);
      assert.equal(r.describe.json.SignatureCheck, false);
      assert.equal(r.describe.json.Measurements.PCR8, pcrHex(certDer));
      assert.equal(r.signature?.cose?.valid, true);
      assert.equal(r.signature?.payloadMatchesPcr0, false);
      // A differently encoded payload of the same PCR0 (a byte string instead of an array of uints) is also "false".
      const bstrPayload = concat(
        Uint8Array.of(0xa2, 0x6e),
        ascii('register_index'),
        Uint8Array.of(0x00, 0x6e),
        ascii('register_value'),
        cborHead(2, 48),
        PCR0,
      );
      const r2 = await inspect(signedImage({ cose: encodeCose(coseSign(keyPem, 'P-384', bstrPayload)) }));
      assert.ok('json' in r2.describe);
      assert.equal(r2.describe.json.SignatureCheck, false);
    });

    it('a tagged COSE_Sign1 (tag 18) is accepted like an untagged one', async () => {
      const r = await inspect(
        signedImage({
          cose: concat(Uint8Array.of(0xd2), encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0)))),
        }),
      );
      assert.ok('json' in r.describe, 'error' in r.describe ? r.describe.error.message : '');
      assert.equal(r.describe.json.SignatureCheck, true);
    });

    it(
      'two signature sections: a warning; ' + 'PCR8 covers both certificates, the last one is checked (spec 3.4)',
      async () => {
        const sig = encodeSigSection(ascii(certPem), encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0))));
        const bytes = buildEif([...base(), { type: T.signature, data: sig }, { type: T.signature, data: sig }]);
        const r = await inspect(bytes);
        problem(r.layout, 'bad-signature-section', 'warning', 889, 'has 2 signature sections');
        assert.equal(r.measurements.PCR8, pcrHex(certDer, certDer));
        assert.ok('json' in r.describe);
        assert.equal(r.describe.json.SignatureCheck, true);
      },
    );

    it('a signature section in a version 2 image is a warning', async () => {
      const sig = encodeSigSection(ascii(certPem), encodeCose(coseSign(keyPem, 'P-384', pcr0PayloadBytes(PCR0))));
      const l = await layoutOf(
        buildEif([...base().filter((s) => s.type !== T.metadata), { type: T.signature, data: sig }], { version: 2 }),
      );
      problem(l, 'bad-signature-section', 'warning', 639, 'version 2 EIF has a signature section');
      assert.ok(l.problems.every((p) => p.severity === 'warning'));
    });

    it(
      'a certificate chain: PCR8 measures the first certificate only (P2); ' + 'over 32768 bytes is a warning (P25)',
      async () => {
        const chain = certPem.repeat(30);
        const r = await inspect(signedImage({ cert: ascii(chain) }));
        assert.equal(r.measurements.PCR8, pcrHex(certDer));
        assert.equal(r.signature?.certificatePem, chain);
        const size = r.layout.sections[5]?.size ?? 0;
        assert.ok(size > 32768);
        problem(r.layout, 'section-too-large', 'warning', 889, `holds ${size} bytes, more than the format's 32768`);
        assert.ok('json' in r.describe);
        assert.equal(r.describe.json.SignatureCheck, true);
      },
    );

    it('certificate dates do not fail describe (only run-enclave checks them, spec 4.5)', async () => {
      const bytes = signedImage();
      for (const [at, valid] of [
        ['2019-12-31T23:59:59Z', false],
        ['2050-06-01T00:00:00Z', true],
        ['2100-01-01T00:00:00Z', false],
      ] as const) {
        const r = await inspectEifSource(mem(bytes), nodeEifPorts, { at: new Date(at) });
        assert.equal(r.signature?.certificateValid, valid, at);
        assert.ok('json' in r.describe);
        assert.equal(r.describe.json.SignatureCheck, true);
      }
    });

    // Regression (an engine bug this suite found, now fixed): a stored certificate whose EC public key is
    // not a valid point makes inspectEifSource reject with a plain Error from node:crypto's
    // createPublicKey ("error:03000072:digital envelope routines::decode error", thrown from verifyCose in
    // src/engine/node/cose.ts, which eifFile.ts does not catch). eifFile.ts promises "Throws
    // EifFormatError only when the file cannot be walked"; spec 4.5: describe-eif fails (E35) on a
    // signature that cannot be verified, i.e. a describe error, while layout and PCRs stay available.
    it('a certificate whose public key is not a valid EC point fails describe, not the inspection', async () => {
      const der = certDer.slice();
      const [tbs] = derKids(der, derAt(der, 0));
      const spki = derKids(der, tbs as ReturnType<typeof derAt>)[6] as ReturnType<typeof derAt>;
      der[spki.end - 10] = (der[spki.end - 10] as number) ^ 0xff; // a byte of the point's y coordinate
      const res = await inspectResolves(signedImage({ cert: ascii(toPem(der)) }));
      const e = describeError(res);
      assert.ok(e instanceof EifFormatError);
      stillMeasured(res);
    });

    // Regression (an engine bug this suite found, now fixed): an issuer attribute encoded as a
    // UniversalString holding an invalid code point makes parseCertificate throw a RangeError ("Invalid
    // code point 4294967295", from String.fromCodePoint in src/engine/x509/certificate.ts decodeString),
    // which neither parseCertificate (it maps only DerError/TypeError to CertificateError) nor
    // inspectEifSource catches: the inspection rejects with a RangeError instead of reporting a describe
    // error.
    it('a certificate with an undecodable issuer string fails describe, not the inspection', async () => {
      const der = certDer.slice();
      const at = Buffer.from(der).indexOf('synthetic-eif-test-signer');
      der[at - 2] = 0x1c; // UniversalString
      der.fill(0xff, at, at + 4);
      const res = await inspectResolves(signedImage({ cert: ascii(toPem(der)) }));
      const e = describeError(res);
      assert.equal(e.code, 'bad-signature-section');
      stillMeasured(res);
    });
  });
});
