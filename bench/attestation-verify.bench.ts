// Attestation verification throughput: the 10 real hardware documents verified in a loop (signature
// and full chain at each document's own time, against the built-in G1 root), single-threaded, in
// the same run:
//   cold   verifyAttestation without a LinkCache (every certificate link verified every time)
//   warm   verifyAttestation with one long-lived LinkCache (only the document signature is new)
//   peer   @0xsequence/tee-verifier doing the same work (decode, signature, chain at the document
//          time, root fingerprint)
//   limit  `openssl speed -seconds 3 ecdsap384` verify/s (run before and after the loops)
// and, to show where the time goes, the node:crypto floor for the same verifications with every
// object prepared in advance, node's one-shot crypto.verify rate, and the cold path with the pinned
// root's self-signature taken as known (an experiment through the crypto port; src/ is unchanged).
// Rates are per CPU second (see loop()); wall-clock rates are reported beside them.
// Targets: cold ≥ 0.8 × verify/s ÷ 5 and ≥ 3 × peer; warm ≥ 6 × peer. Every verification in every
// loop must come back valid, or the benchmark fails.
//   BENCH_ROUNDS (default 7; the modes alternate; the best round of each mode is the headline figure,
//   as other work on the machine only ever slows a round down, and like the larger of the two openssl
//   runs; medians and round-by-round ratios are reported too),
//   BENCH_SECONDS (CPU seconds per mode and round, default 1)
//   BENCH_ATT_ONLY=cold|warm|peer runs that loop alone for BENCH_SECONDS (for `node --cpu-prof`)
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SignedAttestation } from '@0xsequence/tee-verifier';
import { AWS_NITRO_ROOT_G1_PEM, LinkCache, verifyAttestation, type AttestationCrypto } from '../src/engine';
import { nodeAttestationCrypto } from '../src/engine/node';
import { bench, round } from './harness';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const only = process.env.BENCH_ATT_ONLY;

const FIXTURES = path.resolve(__dirname, '../../test/fixtures/attestation');
interface ExpectedDoc {
  readonly file: string;
  readonly timestamp_ms?: number;
}
const expected: { root_der_sha256: string; documents: ExpectedDoc[] } = JSON.parse(
  readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'),
);
interface Doc {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly base64: string;
  readonly at: Date;
}
const DOCS: Doc[] = expected.documents
  .filter((d) => !d.file.startsWith('neg-') && !d.file.startsWith('derived-'))
  .map((d) => {
    const bytes = new Uint8Array(readFileSync(path.join(FIXTURES, d.file)));
    return {
      file: d.file,
      bytes,
      base64: Buffer.from(bytes).toString('base64'),
      at: new Date(d.timestamp_ms as number),
    };
  });
if (DOCS.length !== 10) throw new Error(`expected 10 real documents, found ${DOCS.length}`);

// ---------------------------------------------------------------------------------------------
// The hardware limit.

function opensslVerifyPerSecond(): number {
  if (spawnSync('openssl', ['version']).status !== 0) {
    if (process.getuid?.() === 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      spawnSync('apt-get', ['install', '-y', 'openssl'], { stdio: 'ignore' });
    }
    if (spawnSync('openssl', ['version']).status !== 0) throw new Error('openssl is missing (apt-get install openssl)');
  }
  const r = spawnSync('openssl', ['speed', '-seconds', '3', 'ecdsap384'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl speed failed: ${r.stderr}`);
  // "384 bits ecdsa (nistp384)   0.0007s   0.0005s   1507.1   1820.0": sign, verify, sign/s, verify/s.
  const m = /^\s*384 bits ecdsa \(nistp384\)\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)\s+([\d.]+)\s*$/m.exec(r.stdout);
  if (!m) throw new Error(`cannot read the verify/s column of openssl speed:\n${r.stdout}`);
  return Number(m[4]);
}

// ---------------------------------------------------------------------------------------------
// The loops: documents per CPU second (user + system time of this process, all threads), over at
// least `duration` CPU seconds. CPU time, because `openssl speed` divides by CPU user time too
// (unless -elapsed), and because it keeps the figures steady when other work shares the machine.
// A verification that is not valid throws.

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Rate {
  readonly docsPerSec: number;
  readonly docs: number;
  readonly wallDocsPerSec: number;
}

function loop(label: string, duration: number, once: (doc: Doc) => boolean): Rate {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  let docs = 0;
  for (;;) {
    for (const d of DOCS) {
      if (!once(d)) throw new Error(`${label}: ${d.file} did not verify`);
      docs++;
    }
    if (cpuSeconds() - c0 >= duration) break;
  }
  return {
    docsPerSec: docs / (cpuSeconds() - c0),
    docs,
    wallDocsPerSec: docs / (Number(process.hrtime.bigint() - t0) / 1e9),
  };
}

async function asyncLoop(label: string, duration: number, once: (doc: Doc) => Promise<boolean>): Promise<Rate> {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  let docs = 0;
  for (;;) {
    for (const d of DOCS) {
      if (!(await once(d))) throw new Error(`${label}: ${d.file} did not verify`);
      docs++;
    }
    if (cpuSeconds() - c0 >= duration) break;
  }
  return {
    docsPerSec: docs / (cpuSeconds() - c0),
    docs,
    wallDocsPerSec: docs / (Number(process.hrtime.bigint() - t0) / 1e9),
  };
}

const cold = (d: Doc): boolean => verifyAttestation(d.bytes, { at: 'document' }, nodeAttestationCrypto).valid;
// An experiment for the report (src/ is not changed): the crypto port answers the pinned G1 root's
// self-signature from a constant instead of re-verifying it, as an engine that trusts the pinned
// bytes would. Everything else is the cold path.
const G1_DER = new Uint8Array(Buffer.from(AWS_NITRO_ROOT_G1_PEM.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64'));
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length &&
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;
const pinnedRootCrypto: AttestationCrypto = {
  ...nodeAttestationCrypto,
  verifyCertificateSignature: (certificate, issuer) =>
    (sameBytes(certificate, G1_DER) && sameBytes(issuer, G1_DER)) ||
    nodeAttestationCrypto.verifyCertificateSignature(certificate, issuer),
};
const coldPinnedRoot = (d: Doc): boolean => verifyAttestation(d.bytes, { at: 'document' }, pinnedRootCrypto).valid;
const warmCache = new LinkCache();
const warm = (d: Doc): boolean =>
  verifyAttestation(d.bytes, { at: 'document' }, nodeAttestationCrypto, warmCache).valid;

async function peer(d: Doc): Promise<boolean> {
  const att = SignedAttestation.fromDocument(d.base64);
  if (!(await att.verifySignature())) return false;
  if (!(await att.verifyRootOfTrust(d.at))) return false;
  // rootCertFingerprint() reads window.crypto; pkijs must not see `window` in Node, so alias it only here.
  const g = globalThis as { window?: unknown };
  g.window = globalThis;
  try {
    return (await att.rootCertFingerprint()) === expected.root_der_sha256;
  } finally {
    delete g.window;
  }
}

/** How many ECDSA verifications one verification of each document costs, counted at the crypto port. */
function verificationsPerDoc(cache?: LinkCache): number {
  let n = 0;
  const counting: AttestationCrypto = {
    ...nodeAttestationCrypto,
    sha256: (data) => nodeAttestationCrypto.sha256(data),
    verifyEcdsa: (...a) => {
      n++;
      return nodeAttestationCrypto.verifyEcdsa(...a);
    },
    verifyCertificateSignature: (...a) => {
      n++;
      return nodeAttestationCrypto.verifyCertificateSignature(...a);
    },
  };
  for (const d of DOCS)
    if (!verifyAttestation(d.bytes, { at: 'document' }, counting, cache).valid) throw new Error(`${d.file}: not valid`);
  return n / DOCS.length;
}

// ---------------------------------------------------------------------------------------------
// The node:crypto floor.

interface Prepared {
  readonly certs: X509Certificate[];
  readonly keys: KeyObject[];
  readonly leafKey: KeyObject;
  readonly sig: Buffer;
  readonly sigStructure: Buffer;
}

/** Every certificate, key and Sig_structure of the 10 documents, made in advance. */
function prepare(): Prepared[] {
  return DOCS.map((d) => {
    const r = verifyAttestation(d.bytes, { at: 'document' }, nodeAttestationCrypto);
    const doc = r.document;
    const p = r.decoded?.cose;
    const leafSpki = r.chain[r.chain.length - 1]?.info.spki;
    if (!r.valid || !doc || !p || !leafSpki) throw new Error(`${d.file}: not valid`);
    const certs = [...doc.cabundle, doc.certificate].map((der) => new X509Certificate(der));
    const head = (n: number) => (n < 24 ? [0x40 + n] : n < 256 ? [0x58, n] : [0x59, n >> 8, n & 0xff]);
    return {
      certs,
      keys: certs.map((c) => c.publicKey),
      leafKey: createPublicKey({ key: Buffer.from(leafSpki), format: 'der', type: 'spki' }),
      sig: Buffer.from(p.signature),
      sigStructure: Buffer.concat([
        Buffer.from([0x84, 0x6a]),
        Buffer.from('Signature1'),
        Buffer.from(head(p.protectedBytes.length)),
        Buffer.from(p.protectedBytes),
        Buffer.from([0x40]),
        Buffer.from(head(p.payload.length)),
        Buffer.from(p.payload),
      ]),
    };
  });
}

/**
 * What verifyAttestation would cost with no overhead of its own: the certificate links (with
 * `links` 5 the root's self-signature too, as the engine does; with 4 not) and the document
 * signature, through the same node:crypto calls, everything parsed in advance.
 */
function cryptoFloor(prepared: Prepared[], duration: number, links: 4 | 5): number {
  let i = 0;
  return loop(`node:crypto floor (${links} links)`, duration, () => {
    const p = prepared[i++ % prepared.length] as Prepared;
    for (let k = links === 5 ? 0 : 1; k < p.certs.length; k++)
      if (!(p.certs[k] as X509Certificate).verify(p.keys[Math.max(0, k - 1)] as KeyObject)) return false;
    return nodeVerify('sha384', p.sigStructure, { key: p.leafKey, dsaEncoding: 'ieee-p1363' }, p.sig);
  }).docsPerSec;
}

/**
 * One-shot crypto.verify of one P-384 signature with a ready KeyObject,
 * per CPU second (node's per-call cost, to set against openssl speed).
 */
function nodeOneShotVerifyPerSec(prepared: Prepared[], duration: number): number {
  const p = prepared[0] as Prepared;
  const c0 = cpuSeconds();
  let n = 0;
  while (cpuSeconds() - c0 < duration) {
    for (let k = 0; k < 20; k++)
      if (!nodeVerify('sha384', p.sigStructure, { key: p.leafKey, dsaEncoding: 'ieee-p1363' }, p.sig))
        throw new Error('one-shot verify failed');
    n += 20;
  }
  return n / (cpuSeconds() - c0);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

if (only) {
  // Profiling mode: one loop alone, no figures.
  void (async () => {
    const r =
      only === 'peer' ? await asyncLoop('peer', seconds, peer) : loop(only, seconds, only === 'warm' ? warm : cold);
    console.log(`${only}: ${round(r.docsPerSec)} docs/s (${r.docs} documents)`);
  })();
} else {
  bench('attestation-verify', async () => {
    const opensslBefore = opensslVerifyPerSecond();
    // Warm-up (JIT, the crypto port's key and certificate caches, the LinkCache). The peer (pkijs,
    // asn1js) keeps getting faster for a few seconds of CPU, so it gets the longest warm-up.
    loop('warm-up cold', 1.5, cold);
    loop('warm-up warm', 1.5, warm);
    await asyncLoop('warm-up peer', 4, peer);
    const prepared = prepare();
    const rates = {
      coldPinnedRoot: [] as number[],
      cold: [] as number[],
      warm: [] as number[],
      peer: [] as number[],
      floor6: [] as number[],
      floor5: [] as number[],
      oneShot: [] as number[],
      coldWall: [] as number[],
      warmWall: [] as number[],
      peerWall: [] as number[],
    };
    let verified = 0;
    for (let i = 0; i < rounds; i++) {
      // The modes alternate, so each sees the same machine load.
      const c = loop('cold', seconds, cold);
      const w = loop('warm', seconds, warm);
      const p = await asyncLoop('peer', seconds, peer);
      rates.cold.push(c.docsPerSec);
      rates.warm.push(w.docsPerSec);
      rates.peer.push(p.docsPerSec);
      rates.coldWall.push(c.wallDocsPerSec);
      rates.warmWall.push(w.wallDocsPerSec);
      rates.peerWall.push(p.wallDocsPerSec);
      rates.coldPinnedRoot.push(loop('cold, pinned root not re-verified', seconds / 2, coldPinnedRoot).docsPerSec);
      rates.floor6.push(cryptoFloor(prepared, seconds / 2, 5));
      rates.floor5.push(cryptoFloor(prepared, seconds / 2, 4));
      rates.oneShot.push(nodeOneShotVerifyPerSec(prepared, seconds / 4));
      verified += c.docs + w.docs + p.docs;
    }
    const opensslAfter = opensslVerifyPerSecond();
    const verifyPerSec = Math.max(opensslBefore, opensslAfter);
    const best = (xs: number[]) => Math.max(...xs);
    const coldDocs = best(rates.cold);
    const warmDocs = best(rates.warm);
    const peerDocs = best(rates.peer);
    const coldHardwareTarget = (0.8 * verifyPerSec) / 5;
    const list = (xs: number[]) => xs.map((x) => round(x)).join(' ');
    return {
      documents: DOCS.length,
      rounds,
      cpuSecondsPerModeAndRound: seconds,
      verificationsAllValid: true,
      documentsVerified: verified,
      rateUnit:
        'documents (or verifications) per CPU second of this process, best round; ' +
        'openssl speed: verify/s per CPU user second, the larger of two runs',
      coldDocsPerSec: round(coldDocs),
      warmDocsPerSec: round(warmDocs),
      peerDocsPerSec: round(peerDocs),
      opensslVerifyPerSec: verifyPerSec,
      coldTargetDocsPerSec: round(coldHardwareTarget),
      coldVsHardwareTarget: round(coldDocs / coldHardwareTarget, 3),
      coldVsPeer: round(coldDocs / peerDocs, 2),
      coldVsPeerTarget: 3,
      warmVsPeer: round(warmDocs / peerDocs, 2),
      warmVsPeerTarget: 6,
      coldHardwareTargetMet: coldDocs >= coldHardwareTarget,
      coldPeerTargetMet: coldDocs >= 3 * peerDocs,
      warmPeerTargetMet: warmDocs >= 6 * peerDocs,
      coldMedianDocsPerSec: round(median(rates.cold)),
      warmMedianDocsPerSec: round(median(rates.warm)),
      peerMedianDocsPerSec: round(median(rates.peer)),
      coldWallMedianDocsPerSec: round(median(rates.coldWall)),
      warmWallMedianDocsPerSec: round(median(rates.warmWall)),
      peerWallMedianDocsPerSec: round(median(rates.peerWall)),
      coldEcdsaVerificationsPerDoc: verificationsPerDoc(),
      warmEcdsaVerificationsPerDoc: verificationsPerDoc(warmCache),
      opensslVerifyPerSecBefore: opensslBefore,
      opensslVerifyPerSecAfter: opensslAfter,
      experimentColdPinnedRootNotReverifiedDocsPerSec: round(best(rates.coldPinnedRoot)),
      experimentColdPinnedRootVsHardwareTarget: round(best(rates.coldPinnedRoot) / coldHardwareTarget, 3),
      nodeOneShotVerifyPerSec: round(best(rates.oneShot)),
      nodeFloor6VerifiesDocsPerSec: round(best(rates.floor6)),
      nodeFloor5VerifiesDocsPerSec: round(best(rates.floor5)),
      coldVsNodeFloor6: round(coldDocs / best(rates.floor6), 3),
      // Ratios taken within each round (rates measured seconds apart), then the median.
      coldVsPeerPairedMedian: round(median(rates.cold.map((c, i) => c / (rates.peer[i] as number))), 2),
      warmVsPeerPairedMedian: round(median(rates.warm.map((w, i) => w / (rates.peer[i] as number))), 2),
      coldVsNodeFloor6PairedMedian: round(median(rates.cold.map((c, i) => c / (rates.floor6[i] as number))), 3),
      // The hardware target with node's own one-shot verify rate (same round) in place of openssl speed's.
      coldVsOneShotTargetPairedMedian: round(
        median(rates.cold.map((c, i) => c / ((0.8 * (rates.oneShot[i] as number)) / 5))),
        3,
      ),
      coldRoundsDocsPerSec: list(rates.cold),
      warmRoundsDocsPerSec: list(rates.warm),
      peerRoundsDocsPerSec: list(rates.peer),
      nodeFloor6RoundsDocsPerSec: list(rates.floor6),
      nodeOneShotRoundsVerifyPerSec: list(rates.oneShot),
      experimentColdPinnedRootRoundsDocsPerSec: list(rates.coldPinnedRoot),
    };
  });
}
