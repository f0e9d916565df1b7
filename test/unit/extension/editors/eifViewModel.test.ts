// The Enclave Image Viewer's view model, built in Node from the fixture EIFs. Expected values are
// read from the fixtures' `.expected.json` and the certificate facts from node:crypto's own X.509
// parser, never written into the test.
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, EifFormatError, HEADER, nameToRfc4514 as nameText } from '../../../../src/engine';
import { inspectEif } from '../../../../src/engine/node';
import { toEifViewModel, toViewError } from '../../../../src/extension/editors/eifViewModel';
import { MAX_COPY_BYTES, parseWebviewMessage, type EifViewModel } from '../../../../src/shared/eifViewer';
import { humanSize } from '../../../../src/webview/lib/format';
import { expectedEif, type ExpectedEif } from '../../eifFixtures';
import { repoPath } from '../../repo';

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const SIGNED = path.join(FIXTURES, 'synthetic-v4-signed.eif');
const UNSIGNED = path.join(FIXTURES, 'synthetic-v4-unsigned.eif');
const expected = (file: string): ExpectedEif => expectedEif(file);
const TYPE_NAMES = ['invalid', 'kernel', 'cmdline', 'ramdisk', 'signature', 'metadata'];
/** Inside the test certificate's validity (2020-2099). */
const AT = new Date('2024-06-01T12:00:00Z');

async function modelOf(file: string, at = AT): Promise<EifViewModel> {
  return toEifViewModel(await inspectEif(file, { at }), { path: file, inspectedAt: at });
}

/** The view model's error for a file that cannot be walked (the test fails if it can be). */
async function errorOf(file: string) {
  try {
    await inspectEif(file, { at: AT });
  } catch (e) {
    return toViewError(file, e);
  }
  assert.fail(`${path.basename(file)} was read as an EIF`);
}

describe('(unit) Enclave Image Viewer view model', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nitro-eif-viewer-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Writes a modified copy of a fixture into the temp dir. */
  function variant(name: string, from: string, edit: (bytes: Buffer) => Buffer | void): string {
    const bytes = readFileSync(from);
    const out = edit(bytes) ?? bytes;
    const file = path.join(tmp, name);
    writeFileSync(file, out);
    return file;
  }

  for (const file of [UNSIGNED, SIGNED]) {
    const name = path.basename(file);
    describe(name, () => {
      const exp = expected(file);
      let model: EifViewModel;
      before(async () => {
        model = await modelOf(file);
      });

      it('is plain JSON (no bigint, Date or class instance survives only in memory)', () => {
        assert.deepEqual(JSON.parse(JSON.stringify(model)), model);
      });

      it('names the file and its size', () => {
        assert.equal(model.file.name, name);
        assert.equal(model.file.path, file);
        assert.equal(model.file.size, exp.size);
      });

      it('carries the header fields, with u64s as decimal text', () => {
        assert.equal(model.header.magic, '2e 65 69 66');
        assert.equal(model.header.version, 4);
        assert.equal(model.header.flags, '0x0000');
        assert.equal(model.header.architecture, 'x86_64');
        assert.match(model.header.defaultMem, /^\d+$/);
        assert.match(model.header.defaultCpus, /^\d+$/);
        assert.equal(model.header.numSections, exp.section_offsets.length);
      });

      it('carries the stored and computed CRC as 0x%08x, and that they match', () => {
        assert.deepEqual(model.crc, { stored: exp.eif_crc32, computed: exp.eif_crc32, ok: true });
      });

      it('lists every section with its offsets and size, agreeing with the header table', () => {
        assert.equal(model.sections.length, exp.section_offsets.length);
        model.sections.forEach((s, i) => {
          assert.equal(s.index, i);
          assert.ok(s.found, `section ${i} was found`);
          assert.equal(s.found.headerOffset, exp.section_offsets[i]);
          assert.equal(s.found.dataOffset, (exp.section_offsets[i] as number) + 12);
          assert.equal(s.found.size, exp.section_sizes[i]);
          assert.equal(s.found.type, exp.section_types[i]);
          assert.equal(s.found.typeName, TYPE_NAMES[exp.section_types[i] as number]);
          assert.equal(s.tableOffset, String(exp.section_offsets[i]));
          assert.equal(s.tableSize, String(exp.section_sizes[i]));
          assert.equal(s.offsetMatches && s.sizeMatches, true);
        });
        assert.equal(model.trailingBytes, 0);
        assert.deepEqual(model.problems, []);
      });

      it('says which PCRs each section feeds', () => {
        const fed = model.sections.map((s) => `${s.found?.typeName}:${s.found?.measuredIn.join('+')}`);
        const want = ['kernel:PCR0+PCR1', 'cmdline:PCR0+PCR1', 'metadata:', 'ramdisk:PCR0+PCR1', 'ramdisk:PCR0+PCR2'];
        if (exp.PCR8) want.push('signature:PCR8');
        assert.deepEqual(fed, want);
      });

      it('carries the PCRs with their meaning, and the Measurements JSON in nitro-cli key order', () => {
        const pcrs = Object.fromEntries(model.measurements.pcrs.map((p) => [p.name, p.value]));
        assert.deepEqual(pcrs, {
          PCR0: exp.PCR0,
          PCR1: exp.PCR1,
          PCR2: exp.PCR2,
          ...(exp.PCR8 ? { PCR8: exp.PCR8 } : {}),
        });
        assert.deepEqual(
          model.measurements.pcrs.map((p) => p.meaning),
          [
            'Enclave image file',
            'Linux kernel and bootstrap',
            'Application',
            ...(exp.PCR8 ? ['Signing certificate of the image'] : []),
          ],
        );
        const json = JSON.parse(model.measurements.json);
        assert.deepEqual(Object.keys(json), ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2', ...(exp.PCR8 ? ['PCR8'] : [])]);
        assert.equal(json.HashAlgorithm, model.measurements.hashAlgorithm);
        assert.equal(json.PCR0, exp.PCR0);
      });

      it('carries the metadata, with DockerInfo and CustomMetadata as JSON text', () => {
        assert.ok(model.metadata?.ok);
        assert.equal(model.metadata.imageName, 'test');
        assert.equal(model.metadata.imageVersion, '1.0');
        assert.deepEqual(
          model.metadata.build.map((b) => b.key),
          ['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion'],
        );
        assert.equal(model.metadata.dockerInfo, 'null');
        assert.equal(model.metadata.customMetadata, 'null');
      });

      it('says describe-eif succeeds, with its JSON', () => {
        assert.ok(model.describe.ok);
        const json = JSON.parse(model.describe.json);
        assert.equal(json.EifVersion, 4);
        assert.equal(json.CheckCRC, true);
        assert.equal(json.IsSigned, exp.PCR8 !== undefined);
        assert.equal(json.Measurements.PCR2, exp.PCR2);
      });
    });
  }

  it('shows no signature for the unsigned image', async () => {
    const model = await modelOf(UNSIGNED);
    assert.equal(model.signature, undefined);
    assert.ok(!model.measurements.pcrs.some((p) => p.name === 'PCR8'));
  });

  describe('the signing certificate and the signature checks of the signed image', () => {
    const x509 = new X509Certificate(readFileSync(path.join(FIXTURES, 'test-cert.pem')));
    let model: EifViewModel;
    before(async () => {
      model = await modelOf(SIGNED);
    });

    it('shows subject, issuer, serial, validity and algorithms as node:crypto reads them', () => {
      assert.ok(model.signature?.ok);
      const c = model.signature.certificate;
      assert.equal(c.subject, x509.subject.split('\n').join(', '));
      assert.equal(c.issuer, x509.issuer.split('\n').join(', '));
      assert.equal(c.serial.replace(/:/g, '').toUpperCase(), x509.serialNumber.toUpperCase());
      assert.equal(c.notBefore.iso, new Date(x509.validFrom).toISOString());
      assert.equal(c.notAfter.iso, new Date(x509.validTo).toISOString());
      assert.equal(c.notBefore.openssl, x509.validFrom); // both in OpenSSL's print format
      assert.equal(c.notAfter.openssl, x509.validTo);
      assert.equal(c.keyAlgorithm, 'id-ecPublicKey');
      assert.equal(c.curve, 'secp384r1');
      assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
      assert.equal(c.signatureAlgorithm, 'ecdsa-with-SHA384');
    });

    it('carries the SHA-256 fingerprint of the certificate DER', () => {
      assert.ok(model.signature?.ok);
      assert.equal(model.signature.certificate.sha256Fingerprint, x509.fingerprint256);
    });

    it('passes every signature check while the certificate is valid', () => {
      assert.ok(model.signature?.ok);
      assert.equal(model.signature.coseAlgorithm, 'ES384');
      assert.equal(model.signature.coseValid, true);
      assert.equal(model.signature.coseReason, undefined);
      assert.equal(model.signature.payloadMatchesPcr0, true);
      assert.equal(model.signature.certificateValidNow, true);
      assert.equal(model.signature.checkedAt, AT.toISOString());
      assert.equal(model.inspectedAt, AT.toISOString());
    });

    it('says the certificate is not valid when checked after it expired', async () => {
      const later = await modelOf(SIGNED, new Date('2100-01-02T00:00:00Z'));
      assert.ok(later.signature?.ok);
      assert.equal(later.signature.certificateValidNow, false);
      assert.equal(later.signature.coseValid, true);
      assert.equal(later.signature.expiryWarning?.state, 'expired');
      assert.match(later.signature.expiryWarning.message, /expired on \d{4}-\d{2}-\d{2}/);
    });

    it('warns in the signature section of a certificate expiring within 30 days, not of one valid longer', async () => {
      assert.ok(model.signature?.ok);
      assert.equal(model.signature.expiryWarning, undefined, 'valid until 2099: no warning in 2024');
      const notAfter = Date.parse(x509.validTo);
      const soon = await modelOf(SIGNED, new Date(notAfter - 10 * 24 * 3600 * 1000));
      assert.ok(soon.signature?.ok);
      assert.equal(soon.signature.certificateValidNow, true);
      assert.deepEqual(
        { state: soon.signature.expiryWarning?.state, days: soon.signature.expiryWarning?.days },
        { state: 'expires-soon', days: 10 },
      );
      assert.match(soon.signature.expiryWarning?.message ?? '', /expires in 10 days/);
      const early = await modelOf(SIGNED, new Date(Date.parse(x509.validFrom) - 1000));
      assert.ok(early.signature?.ok);
      assert.equal(early.signature.expiryWarning?.state, 'not-yet-valid');
    });
  });

  describe('malformed files', () => {
    it('a truncated copy: says which section runs past the end of the file', async () => {
      const exp = expected(SIGNED);
      const file = variant('truncated.eif', SIGNED, (b) => b.subarray(0, exp.size - 100));
      const error = await errorOf(file);
      assert.equal(error.fileName, 'truncated.eif');
      assert.equal(error.kind, 'format');
      assert.equal(error.code, 'section-past-eof');
      assert.equal(error.offset, (exp.section_offsets[5] as number) + 4);
      const room = exp.size - 100 - (exp.section_offsets[5] as number) - 12;
      assert.equal(
        error.message,
        `section 5 (signature) says it holds ${exp.section_sizes[5]} bytes, but only ${room} bytes follow its header`,
      );
      assert.doesNotMatch(error.message, /rule:/, 'code and offset are fields of their own');
    });

    it('a file shorter than the header, and a file that is not an EIF', async () => {
      const short = await errorOf(variant('short.eif', UNSIGNED, (b) => b.subarray(0, 100)));
      assert.equal(short.code, 'short-file');
      assert.match(short.message, /100 bytes, shorter than the 548-byte EIF header/);
      const zeros = await errorOf(variant('zeros.eif', UNSIGNED, () => Buffer.alloc(1000)));
      assert.equal(zeros.code, 'bad-magic');
      assert.match(zeros.message, /not an enclave image file/);
    });

    it('a missing file', () => {
      const error = toViewError(
        path.join(tmp, 'gone.eif'),
        Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }),
      );
      assert.equal(error.fileName, 'gone.eif');
      assert.equal(error.kind, 'unreadable');
      assert.match(error.message, /does not exist/);
      assert.equal(error.code, undefined);
    });

    it('a corrupted byte in a ramdisk: CRC mismatch with both values, and a different PCR0', async () => {
      const exp = expected(UNSIGNED);
      const ramdisk = (exp.section_offsets[4] as number) + 12;
      const file = variant('flipped.eif', UNSIGNED, (b) => {
        b[ramdisk] = (b[ramdisk] as number) ^ 0x01;
      });
      const model = await modelOf(file);
      assert.equal(model.crc.ok, false);
      assert.equal(model.crc.stored, exp.eif_crc32);
      assert.match(model.crc.computed, /^0x[0-9a-f]{8}$/);
      assert.notEqual(model.crc.computed, exp.eif_crc32);
      const pcr = (n: string) => model.measurements.pcrs.find((p) => p.name === n)?.value;
      assert.notEqual(pcr('PCR0'), exp.PCR0);
      assert.equal(pcr('PCR1'), exp.PCR1, 'the first ramdisk is untouched');
      assert.notEqual(pcr('PCR2'), exp.PCR2);
      assert.ok(model.describe.ok, 'describe-eif reports CheckCRC false rather than failing');
      assert.equal(JSON.parse(model.describe.json).CheckCRC, false);
    });

    it('a header table entry that disagrees with the section: flagged on the row and listed as an error', async () => {
      const exp = expected(UNSIGNED);
      const file = variant('table.eif', UNSIGNED, (b) => {
        b.writeBigUInt64BE(99n, HEADER.sectionSizes + 8 * 1);
      });
      const model = await modelOf(file);
      const row = model.sections[1];
      assert.ok(row?.found);
      assert.equal(row.tableSize, '99');
      assert.equal(row.found.size, exp.section_sizes[1]);
      assert.equal(row.sizeMatches, false);
      assert.equal(row.offsetMatches, true);
      const problem = model.problems.find((p) => p.code === 'table-mismatch');
      assert.ok(problem);
      assert.equal(problem.severity, 'error');
      assert.equal(problem.offset, HEADER.sectionSizes + 8);
      assert.match(
        problem.message,
        new RegExp(
          `size table says section 1 \\(cmdline\\) holds 99 bytes, but its section header says ${exp.section_sizes[1]}`,
        ),
      );
    });

    it('a table entry for a section that does not exist gets a row of its own', async () => {
      const file = variant('extra-slot.eif', UNSIGNED, (b) => {
        b.writeBigUInt64BE(4096n, HEADER.sectionOffsets + 8 * 7);
      });
      const model = await modelOf(file);
      const row = model.sections.find((s) => s.index === 7);
      assert.ok(row);
      assert.equal(row.found, undefined);
      assert.equal(row.tableOffset, '4096');
      assert.equal(row.offsetMatches, false);
    });

    it('a signature that does not verify: the COSE check fails with a reason, and describe-eif fails', async () => {
      const file = variant('bad-signature.eif', SIGNED, (b) => {
        // The last byte of the file is the last byte of the ECDSA signature, stored as one CBOR
        // uint; flipping its low bit keeps the CBOR valid (0-23 stay short, 24-255 stay long).
        b[b.length - 1] = (b[b.length - 1] as number) ^ 0x01;
      });
      const model = await modelOf(file);
      assert.ok(model.signature?.ok);
      assert.equal(model.signature.coseValid, false);
      assert.match(model.signature.coseReason ?? '', /does not verify/);
      assert.equal(model.signature.payloadMatchesPcr0, true);
      assert.ok(!model.describe.ok);
      assert.equal(model.describe.code, 'signature-invalid');
      assert.match(model.describe.message, /signature is not valid/);
    });

    it('measuring that was cancelled', () => {
      const error = toViewError('/x/a.eif', new CancelledError('measuring the enclave image'));
      assert.equal(error.kind, 'cancelled');
      assert.match(error.message, /cancelled/);
    });

    it('a format error thrown by the engine keeps its rule and offset', () => {
      const error = toViewError('/x/a.eif', new EifFormatError('bad-magic', 0, 'not an enclave image file'));
      assert.deepEqual(error, {
        fileName: 'a.eif',
        kind: 'format',
        message: 'not an enclave image file',
        code: 'bad-magic',
        offset: 0,
      });
    });
  });

  describe('helpers', () => {
    it('writes certificate names as CN=…, O=… with RFC 4514 escapes', () => {
      const attr = (name: string, value: string) => ({ oid: '', name, value });
      assert.equal(
        nameText([attr('countryName', 'US'), attr('organizationName', 'A, B'), attr('commonName', 'x+y')]),
        'C=US, O=A\\, B, CN=x\\+y',
      );
      assert.equal(nameText([attr('1.2.3.4', ' lead')]), '1.2.3.4=\\ lead');
    });

    it('prints sizes for people: 1.2 MiB (1234567 bytes)', () => {
      assert.equal(humanSize(1234567), '1.2 MiB (1234567 bytes)');
      assert.equal(humanSize(12), '12 bytes');
      assert.equal(humanSize(1), '1 byte');
      assert.equal(humanSize(2712), '2.6 KiB (2712 bytes)');
      assert.equal(humanSize(1073741824), '1 GiB (1073741824 bytes)');
    });
  });

  describe('messages from the webview', () => {
    it('accepts the four message types of the protocol', () => {
      for (const type of ['ready', 'describe', 'reload'])
        assert.deepEqual(parseWebviewMessage({ type }), { ok: true, message: { type } });
      assert.deepEqual(parseWebviewMessage({ type: 'copy', body: { text: 'abc', what: 'PCR0' } }), {
        ok: true,
        message: { type: 'copy', body: { text: 'abc', what: 'PCR0' } },
      });
    });

    it('refuses anything else, saying why', () => {
      const refused = (value: unknown) => {
        const r = parseWebviewMessage(value);
        assert.equal(r.ok, false, JSON.stringify(value));
        return r.ok ? '' : r.reason;
      };
      refused(null);
      refused('ready');
      refused([]);
      assert.match(refused({ type: 'runCommand' }), /not a message/);
      refused({ type: 'ready', id: -1 });
      assert.match(refused({ type: 'copy' }), /body/);
      assert.match(refused({ type: 'copy', body: { text: 1, what: 'x' } }), /text/);
      assert.match(refused({ type: 'copy', body: { text: 'x' } }), /what/);
      assert.match(refused({ type: 'copy', body: { text: 'x', what: '' } }), /what/);
      assert.match(
        refused({ type: 'copy', body: { text: 'é'.repeat(MAX_COPY_BYTES / 2 + 1), what: 'x' } }),
        /longer than/,
      );
      assert.equal(
        parseWebviewMessage({ type: 'copy', body: { text: 'a'.repeat(MAX_COPY_BYTES), what: 'x' } }).ok,
        true,
      );
    });
  });
});
