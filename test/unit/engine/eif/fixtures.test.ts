// The fixture EIFs (made by an independent implementation of the spec) against their
// `.expected.json`: first the expected values are re-derived here with node:crypto / node:zlib
// straight from the file bytes, then the engine must reproduce every one of them.
import * as assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import {
  DEFAULT_CHUNK,
  MemoryByteSource,
  decodeCoseSign1,
  decodeSignatureSection,
  formatJson,
  fromHex,
  pcr0Payload,
  planMeasurement,
  readLayout,
  runPlan,
  SectionType,
  toHex,
} from '../../../../src/engine';
import { FileByteSource, describeEif, inspectEif, nodeHashes } from '../../../../src/engine/node';
import { type ExpectedEif } from '../../eifFixtures';
import { repoPath } from '../../repo';
import { certSignatureBytes, decodeSigSection, eifCrc, hex, openssl, pcrHex, T } from './helpers';

type Expected = ExpectedEif;

const FIXTURES = repoPath('test', 'fixtures', 'eif');
const expectedFiles = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.expected.json'))
  .sort();
const load = (name: string): { exp: Expected; path: string; bytes: Uint8Array } => {
  const exp = JSON.parse(readFileSync(`${FIXTURES}/${name}`, 'utf8')) as Expected;
  const path = `${FIXTURES}/${exp.file}`;
  return { exp, path, bytes: new Uint8Array(readFileSync(path)) };
};
const certPem = readFileSync(`${FIXTURES}/test-cert.pem`, 'utf8');
const certDer = new Uint8Array(new X509Certificate(certPem).raw);

/** Section data sliced by the expected table (independent of any walker). */
function slices(bytes: Uint8Array, exp: Expected): { type: number; data: Uint8Array }[] {
  return exp.section_offsets.map((off, i) => ({
    type: exp.section_types[i] as number,
    data: bytes.subarray(off + 12, off + 12 + (exp.section_sizes[i] as number)),
  }));
}

describe('(unit) EIF fixtures', () => {
  const consumed = new Set<string>();

  for (const name of expectedFiles) {
    describe(name, () => {
      it('its expected values follow from the file bytes (node:crypto, zlib, independent of the engine)', () => {
        const { exp, bytes } = load(name);
        assert.equal(bytes.length, exp.size);
        if (exp.sha256_file) assert.equal(createHash('sha256').update(bytes).digest('hex'), exp.sha256_file);
        const b = Buffer.from(bytes);
        assert.equal(b.subarray(0, 4).toString('latin1'), '.eif');
        assert.equal(b.readUInt16BE(26), exp.section_offsets.length, 'num_sections');
        // Each expected offset holds a section header with the expected type and size, and the
        // sections tile the file from 548 to the end without gaps.
        let next = 548;
        exp.section_offsets.forEach((off, i) => {
          assert.equal(off, next, `section ${i} offset`);
          assert.equal(b.readUInt16BE(off), exp.section_types[i], `section ${i} type`);
          assert.equal(Number(b.readBigUInt64BE(off + 4)), exp.section_sizes[i], `section ${i} size`);
          assert.equal(b.readBigUInt64BE(28 + 8 * i), BigInt(off), `header offset table ${i}`);
          assert.equal(
            b.readBigUInt64BE(284 + 8 * i),
            BigInt(exp.section_sizes[i] as number),
            `header size table ${i}`,
          );
          next = off + 12 + (exp.section_sizes[i] as number);
        });
        assert.equal(next, exp.size);
        // CRC-32 over file[0:544] ++ file[548:], stored big-endian at 544.
        const crc = eifCrc(bytes);
        assert.equal(`0x${crc.toString(16).padStart(8, '0')}`, exp.eif_crc32);
        assert.equal(b.readUInt32BE(544), crc);
        // PCRs: sha384(zero48 || sha384(content)), by section role.
        const s = slices(bytes, exp);
        const data = (t: number) => s.filter((x) => x.type === t).map((x) => x.data);
        const ramdisks = data(T.ramdisk);
        const kc = s.filter((x) => x.type === T.kernel || x.type === T.cmdline).map((x) => x.data);
        assert.equal(
          pcrHex(...s.filter((x) => x.type !== T.metadata && x.type !== T.signature).map((x) => x.data)),
          exp.PCR0,
        );
        assert.equal(pcrHex(...kc, ...ramdisks.slice(0, 1)), exp.PCR1);
        assert.equal(pcrHex(...ramdisks.slice(1)), exp.PCR2);
        const sig = data(T.signature);
        if (exp.PCR8 !== undefined) {
          assert.equal(sig.length, 1);
          // PCR8 is over the DER of the certificate in test-cert.pem (Node's X509Certificate.raw).
          assert.equal(pcrHex(certDer), exp.PCR8);
          const decoded = decodeSigSection(sig[0] as Uint8Array);
          assert.equal(Buffer.from(decoded.certFile).toString('utf8'), certPem);
          assert.deepEqual(decoded.keys, ['signing_certificate', 'signature']);
          assert.equal(hex(decoded.cose.payload), exp.payload_cbor_hex);
          assert.equal(hex(decoded.cose.protectedBytes), exp.protected_hex);
          // The payload states "PCR0 = <PCR0>": its last 48 uints are PCR0's bytes.
          assert.ok(
            exp.payload_cbor_hex?.startsWith('a26e72656769737465725f696e646578006e72656769737465725f76616c7565983018'),
          );
        } else {
          assert.equal(sig.length, 0);
        }
        consumed.add(name);
      });

      it('the engine reproduces size, CRC, layout and PCRs', async () => {
        const { exp, path, bytes } = load(name);
        const r = await inspectEif(path);
        assert.equal(r.layout.fileSize, exp.size);
        assert.equal(r.layout.trailingBytes, 0);
        assert.deepEqual(r.layout.problems, []);
        assert.equal(r.layout.header.numSections, exp.section_offsets.length);
        assert.deepEqual(
          r.layout.sections.map((s) => s.headerOffset),
          exp.section_offsets,
        );
        assert.deepEqual(
          r.layout.sections.map((s) => s.dataOffset),
          exp.section_offsets.map((o) => o + 12),
        );
        assert.deepEqual(
          r.layout.sections.map((s) => s.size),
          exp.section_sizes,
        );
        assert.deepEqual(
          r.layout.sections.map((s) => s.type),
          exp.section_types,
        );
        assert.deepEqual(
          r.layout.header.sectionOffsets.slice(0, exp.section_offsets.length),
          exp.section_offsets.map(BigInt),
        );
        assert.deepEqual(
          r.layout.header.sectionSizes.slice(0, exp.section_sizes.length),
          exp.section_sizes.map(BigInt),
        );
        assert.ok(r.layout.header.sectionOffsets.slice(exp.section_offsets.length).every((v) => v === 0n));
        const crc = Number.parseInt(exp.eif_crc32, 16);
        assert.deepEqual(r.crc, { stored: crc, computed: crc, ok: true });
        assert.equal(r.measurements.PCR0, exp.PCR0);
        assert.equal(r.measurements.PCR1, exp.PCR1);
        assert.equal(r.measurements.PCR2, exp.PCR2);
        assert.equal(r.measurements.PCR8, exp.PCR8);

        // The same through readLayout + runPlan at awkward chunk sizes.
        for (const chunkSize of [1, 7, 548, 4096, DEFAULT_CHUNK]) {
          const source = new MemoryByteSource(bytes);
          const m = await runPlan(source, planMeasurement(await readLayout(source)), nodeHashes, { chunkSize });
          assert.deepEqual(m.pcrs, { PCR0: exp.PCR0, PCR1: exp.PCR1, PCR2: exp.PCR2 }, `chunkSize ${chunkSize}`);
          assert.equal(m.crc, crc, `chunkSize ${chunkSize}`);
          assert.equal(toHex(m.pcr0), exp.PCR0);
        }
        const file = await FileByteSource.open(path);
        try {
          const m = await runPlan(file, planMeasurement(await readLayout(file)), nodeHashes, { chunkSize: 13 });
          assert.equal(m.pcrs.PCR0, exp.PCR0);
          assert.equal(m.crc, crc);
        } finally {
          await file.close();
        }

        if (exp.PCR8 !== undefined) {
          const sig = r.layout.sections.find((s) => s.type === SectionType.Signature);
          assert.ok(sig);
          const entries = decodeSignatureSection(bytes.subarray(sig.dataOffset, sig.dataOffset + sig.size));
          assert.equal(entries.length, 1);
          const cose = decodeCoseSign1((entries[0] as { coseBytes: Uint8Array }).coseBytes);
          assert.equal(toHex(cose.payload), exp.payload_cbor_hex);
          assert.equal(toHex(cose.protectedBytes), exp.protected_hex);
          assert.equal(toHex(pcr0Payload(fromHex(exp.PCR0))), exp.payload_cbor_hex);
          assert.equal(r.signature?.cose?.valid, true);
          assert.equal(r.signature?.cose?.algorithm, 'ES384');
          assert.equal(r.signature?.payloadMatchesPcr0, true);
          assert.equal(r.signature?.certificatePem, certPem);
        } else {
          assert.equal(r.signature, undefined);
        }
        consumed.add(`${name}#engine`);
      });
    });
  }

  describe('describe-eif JSON (spec 7.2)', () => {
    // Issuer attributes come from Node's X509Certificate (OpenSSL short names mapped to the long
    // names nitro-cli prints); dates from X509Certificate.validFrom/validTo (OpenSSL's
    // ASN1_TIME_print, which nitro-cli uses too); the algorithm from `openssl x509 -text`; the
    // signature colon-hex from our own DER walk of test-cert.pem (helpers.certSignatureBytes),
    // cross-checked against the `Signature Value:` block of `openssl x509 -text`.
    const LONG: Record<string, string> = {
      C: 'countryName',
      O: 'organizationName',
      CN: 'commonName',
      ST: 'stateOrProvinceName',
      L: 'localityName',
      OU: 'organizationalUnitName',
    };

    function independentCertificateJson() {
      const x = new X509Certificate(certPem);
      const issuer: Record<string, string> = {};
      for (const line of x.issuer.split('\n')) {
        const eq = line.indexOf('=');
        issuer[LONG[line.slice(0, eq)] ?? line.slice(0, eq)] = line.slice(eq + 1);
      }
      const text = openssl(['x509', '-in', `${FIXTURES}/test-cert.pem`, '-noout', '-text']);
      const alg = /Signature Algorithm: (\S+)\s*\n\s*Signature Value:/.exec(text)?.[1];
      const sigBlock = /Signature Value:\s*\n([\s0-9a-f:]+)/.exec(text)?.[1] ?? '';
      const fromOpenssl = sigBlock.replace(/\s+/g, '').toUpperCase();
      const fromDer = Array.from(certSignatureBytes(certDer), (b) =>
        b.toString(16).padStart(2, '0').toUpperCase(),
      ).join(':');
      assert.equal(fromDer, fromOpenssl, 'our DER walk and openssl agree on the certificate signature');
      return {
        IssuerName: Object.fromEntries(
          Object.keys(issuer)
            .sort()
            .map((k) => [k, issuer[k] as string]),
        ),
        Algorithm: alg,
        NotBefore: x.validFrom,
        NotAfter: x.validTo,
        Signature: fromDer,
      };
    }

    const fixtureExpected = (name: string) => JSON.parse(readFileSync(`${FIXTURES}/${name}`, 'utf8')) as Expected;
    const METADATA = {
      BuildTime: '1970-01-01T00:00:00+00:00',
      BuildTool: 'eif_build',
      BuildToolVersion: '0.0.0',
      OperatingSystem: 'OS',
      KernelVersion: 'kernel',
      DockerInfo: null,
    };

    it('the signed fixture gives exactly the spec example (keys, order, values)', async () => {
      const exp = fixtureExpected('synthetic-v4-signed.expected.json');
      const cert = independentCertificateJson();
      // The spec's literal values for this fixture.
      assert.deepEqual(cert.IssuerName, {
        commonName: 'synthetic-eif-test-signer',
        countryName: 'US',
        organizationName: 'EIF Spec Test',
      });
      assert.equal(cert.Algorithm, 'ecdsa-with-SHA384');
      assert.equal(cert.NotBefore, 'Jan  1 00:00:00 2020 GMT');
      assert.equal(cert.NotAfter, 'Dec 31 23:59:59 2099 GMT');
      assert.ok(cert.Signature.startsWith('30:66:02:31:00:C1:94:'));
      const expected = {
        EifVersion: 4,
        Measurements: {
          HashAlgorithm: 'Sha384 { ... }',
          PCR0: exp.PCR0,
          PCR1: exp.PCR1,
          PCR2: exp.PCR2,
          PCR8: exp.PCR8,
        },
        IsSigned: true,
        SigningCertificate: cert,
        CheckCRC: true,
        SignatureCheck: true,
        ImageName: 'test',
        ImageVersion: '1.0',
        Metadata: METADATA,
      };
      const json = await describeEif(`${FIXTURES}/${exp.file}`);
      assert.deepEqual(json, expected);
      // Same key order at every level: compare the printed text.
      const printed = formatJson(json);
      assert.equal(printed, `${JSON.stringify(expected, null, 2)}\n`);
      assert.equal(printed, `${JSON.stringify(json, null, 2)}\n`);
      assert.deepEqual(Object.keys(json), Object.keys(expected));
    });

    it('the unsigned fixture gives the same shape without the signature fields', async () => {
      const exp = fixtureExpected('synthetic-v4-unsigned.expected.json');
      const expected = {
        EifVersion: 4,
        Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: exp.PCR0, PCR1: exp.PCR1, PCR2: exp.PCR2 },
        IsSigned: false,
        CheckCRC: true,
        ImageName: 'test',
        ImageVersion: '1.0',
        Metadata: METADATA,
      };
      const json = await describeEif(`${FIXTURES}/${exp.file}`);
      assert.equal(formatJson(json), `${JSON.stringify(expected, null, 2)}\n`);
    });

    it('formatJson is JSON.stringify(v, null, 2) plus a newline', () => {
      for (const v of [{}, [], { a: [1, { b: null }], c: 'x' }, [[]], 'text', 0, null]) {
        assert.equal(formatJson(v), `${JSON.stringify(v, null, 2)}\n`);
      }
      assert.equal(formatJson({ a: [] }), '{\n  "a": []\n}\n');
    });
  });

  describe('coverage (runs after the suites above)', () => {
    it(`consumed every *.expected.json (found: ${expectedFiles.join(', ')})`, () => {
      assert.ok(expectedFiles.length >= 2, `only ${expectedFiles.length} fixtures found in ${FIXTURES}`);
      for (const f of expectedFiles) {
        assert.ok(consumed.has(f), `${f}: independent check did not complete`);
        assert.ok(consumed.has(`${f}#engine`), `${f}: engine check did not complete`);
      }
      assert.equal(consumed.size, 2 * expectedFiles.length);
    });
  });
});
