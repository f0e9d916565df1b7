// Development attestation: a local CA shaped like the AWS Nitro Enclaves hierarchy (attestation
// spec 3.2) and attestation documents signed by it with the exact COSE_Sign1 and payload layout of
// Nitro hardware (spec 1.1, 2.1). Every certificate says it is a development emulator's; none
// claims to be AWS. The verifier accepts these documents only when the development root is passed
// to it as a trusted root of kind 'development' (product honesty rules).
//
// Certificates are issued with @peculiar/x509: node:crypto can verify certificates but cannot
// create them, and the project does not hand-write ASN.1 for issuing.
//
// On disk, under <stateDir>/dev-ca/ (a 0700 folder): root.pem, regional.pem, zonal.pem and
// instances/<parent instance id>.pem, each holding a CA's PKCS#8 private key and its certificate
// (files created with mode 0600), and root.crt, the root certificate alone (0600 too: the state
// folder is the user's alone; `nitro-dev dev-root --export` gives a copy to share). Intermediates are
// reissued (with new keys) when they no longer cover the time a document is made; signing leaves
// live in memory, one per enclave, reissued when they expire.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeCoseSign1, protectedHeader, sigStructure } from '../cose/sign1';
import { concatBytes } from '../util/bytes';
import { cborBytes, cborHead, cborText } from '../util/cbor';
import { pemBlocks } from '../util/pem';

type CryptoKey = webcrypto.CryptoKey;
// @peculiar/x509 types its `crypto` parameters with the DOM's Crypto, which Node's webcrypto provides.
const crypto: webcrypto.Crypto = webcrypto;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-384' } as const;

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

/** Lifetimes modelled on the AWS chain (spec 3.1, 3.2). */
export const DEVELOPMENT_CA_LIFETIMES = {
  /** Years: like AWS's G1 root (30 calendar years). */
  rootYears: 30,
  regional: 20 * DAY,
  zonal: 6 * DAY,
  instance: DAY,
  leaf: 3 * HOUR + 3 * SECOND,
} as const;

/** The naming of the development hierarchy: AWS's structure, with a development domain in place of AWS's. */
const REGION = 'local';
const DOMAIN = 'development.nitro-emulator';
const ORGANIZATION = 'O=Nitro Enclaves emulator, OU=development';
export const DEVELOPMENT_ROOT_CN = DOMAIN;

const ENCLAVE_ID = /^(i-[0-9a-f]{8,17})-enc([0-9a-f]{16})$/;

export class DevelopmentCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevelopmentCaError';
  }
}

interface Issued {
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly node: X509Certificate;
  /** The CA's key for signing certificates (not extractable). */
  readonly signingKey: CryptoKey;
  readonly subjectKeyId: string;
}

interface Leaf {
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly key: KeyObject;
  readonly issuer: Uint8Array;
}

type Level = 'regional' | 'zonal' | 'instance';

const LEVELS: Record<Level, { pathLen: number; usages: number; lifetime: number }> = {
  regional: {
    pathLen: 2,
    usages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
    lifetime: DEVELOPMENT_CA_LIFETIMES.regional,
  },
  zonal: {
    pathLen: 1,
    usages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
    lifetime: DEVELOPMENT_CA_LIFETIMES.zonal,
  },
  instance: { pathLen: 0, usages: x509.KeyUsageFlags.keyCertSign, lifetime: DEVELOPMENT_CA_LIFETIMES.instance },
};

const toPem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END ${label}-----\n`;
const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;
const hex = (n: number): string => randomBytes(n).toString('hex');

/** Writes a file that holds a private key: created with mode 0600 under a temporary name, then moved into place. */
async function writeSecret(target: string, text: string, exclusive: boolean): Promise<boolean> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${hex(6)}.partial`);
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    if (!exclusive) {
      await rename(temp, target);
      return true;
    }
    // The root is created once: a second process that lost the race uses the winner's.
    try {
      await link(temp, target);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function importSigningKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, ALGORITHM, false, ['sign']);
}

/** A CA's key and certificate from its file; undefined when the file is missing or unreadable. */
async function readCaFile(file: string): Promise<Issued | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  try {
    const [key] = pemBlocks(text, 'PRIVATE KEY');
    const [der] = pemBlocks(text, 'CERTIFICATE');
    if (!key || !der) return undefined;
    return await describeIssued(der, await importSigningKey(key));
  } catch {
    return undefined;
  }
}

async function describeIssued(der: Uint8Array, signingKey: CryptoKey): Promise<Issued> {
  const node = new X509Certificate(der);
  const cert = new x509.X509Certificate(der);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  return {
    der,
    node,
    signingKey,
    notBefore: Date.parse(node.validFrom),
    notAfter: Date.parse(node.validTo),
    subjectKeyId: ski?.keyId ?? '',
  };
}

/** A fresh P-384 key pair: the private key as PKCS#8 DER and a WebCrypto signing key, the public key as SPKI DER. */
async function newKeyPair(): Promise<{ pkcs8: Uint8Array; spki: Uint8Array; signingKey: CryptoKey }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  return { pkcs8, spki, signingKey: await importSigningKey(pkcs8) };
}

export interface DevelopmentCaOptions {
  /** The clock for certificate validity (ms since 1970). Default: Date.now. */
  readonly now?: () => number;
}

/** What signs one document: the chain (root first) and the leaf, with a signing function (the key never leaves). */
export interface DevelopmentSigner {
  readonly cabundle: readonly Uint8Array[];
  readonly certificate: Uint8Array;
  /** ES384 over `data`: raw r‖s, 96 bytes. */
  sign(data: Uint8Array): Uint8Array;
}

/** The development CA of one state folder. */
export class DevelopmentCa {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly leaves = new Map<string, Leaf>();
  private regional: Issued | undefined;
  private zonal: Issued | undefined;
  private readonly instances = new Map<string, Issued>();

  private constructor(
    /** `<stateDir>/dev-ca`. */
    readonly directory: string,
    private readonly root: Issued,
  ) {}

  /** The root certificate, DER. */
  get rootDer(): Uint8Array {
    return this.root.der.slice();
  }

  get rootPem(): string {
    return toPem('CERTIFICATE', this.root.der);
  }

  /** Loads the CA of `stateDir`, creating its root on first use. */
  static async load(stateDir: string, options: DevelopmentCaOptions = {}): Promise<DevelopmentCa> {
    const now = options.now ?? Date.now;
    const directory = path.join(stateDir, 'dev-ca');
    await mkdir(path.join(directory, 'instances'), { recursive: true, mode: 0o700 });
    const rootFile = path.join(directory, 'root.pem');
    let root = await readCaFile(rootFile);
    if (!root) {
      if ((await readIfExists(rootFile)) !== undefined)
        throw new DevelopmentCaError(
          `${rootFile} exists but holds no usable key and certificate; move it away to create a new development root`,
        );
      const created = await createRoot(now());
      if (await writeSecret(rootFile, created.text, true)) root = created.issued;
      else root = await readCaFile(rootFile);
      if (!root) throw new DevelopmentCaError(`${rootFile} could not be read back`);
    }
    const crt = path.join(directory, 'root.crt');
    if ((await readIfExists(crt)) !== toPem('CERTIFICATE', root.der)) {
      const temp = `${crt}.${hex(6)}.partial`;
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(toPem('CERTIFICATE', root.der), 'utf8');
      } finally {
        await file.close();
      }
      await rename(temp, crt);
    }
    return new DevelopmentCa(directory, root);
  }

  /**
   * The chain and key that sign a document of `enclaveId` made at `timestamp` (ms), issuing what is missing or expired.
   */
  signer(enclaveId: string, timestamp: number): Promise<DevelopmentSigner> {
    const run = this.queue.then(() => this.prepare(enclaveId, timestamp));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async prepare(enclaveId: string, timestamp: number): Promise<DevelopmentSigner> {
    const m = ENCLAVE_ID.exec(enclaveId);
    if (!m)
      throw new DevelopmentCaError(
        `${JSON.stringify(enclaveId)} is not an enclave ID (<parent instance id>-enc<16 hex>)`,
      );
    if (!Number.isSafeInteger(timestamp) || timestamp <= 0)
      throw new DevelopmentCaError('the document timestamp must be a positive integer (ms since 1970)');
    const instanceId = m[1] as string;
    if (timestamp < this.root.notBefore || timestamp > this.root.notAfter)
      throw new DevelopmentCaError(
        `the development root is valid ${this.root.node.validFrom} to ${this.root.node.validTo}, ` +
          `not at ${new Date(timestamp).toISOString()}`,
      );
    const until = timestamp + DEVELOPMENT_CA_LIFETIMES.leaf;
    this.regional = await this.ensure(
      'regional',
      path.join(this.directory, 'regional.pem'),
      this.regional,
      this.root,
      timestamp,
      until,
    );
    this.zonal = await this.ensure(
      'zonal',
      path.join(this.directory, 'zonal.pem'),
      this.zonal,
      this.regional,
      timestamp,
      until,
    );
    const instance = await this.ensure(
      'instance',
      path.join(this.directory, 'instances', `${instanceId}.pem`),
      this.instances.get(instanceId),
      this.zonal,
      timestamp,
      until,
      instanceId,
    );
    this.instances.set(instanceId, instance);

    let leaf = this.leaves.get(enclaveId);
    if (
      !leaf ||
      leaf.notBefore > timestamp ||
      leaf.notAfter < timestamp ||
      !Buffer.from(leaf.issuer).equals(instance.der)
    ) {
      leaf = await issueLeaf(enclaveId, m[2] as string, instance, timestamp);
      this.leaves.set(enclaveId, leaf);
    }
    const key = leaf.key;
    return {
      cabundle: [this.root.der, this.regional.der, this.zonal.der, instance.der].map((d) => d.slice()),
      certificate: leaf.der.slice(),
      sign: (data) => new Uint8Array(sign('sha384', data, { key, dsaEncoding: 'ieee-p1363' })),
    };
  }

  /**
   * An intermediate that chains to `parent` and covers [from, until]: the one in memory, else the one on disk, else a
   * new one.
   */
  private async ensure(
    level: Level,
    file: string,
    current: Issued | undefined,
    parent: Issued,
    from: number,
    until: number,
    instanceId?: string,
  ): Promise<Issued> {
    const usable = (c: Issued | undefined): c is Issued =>
      c !== undefined &&
      c.notBefore <= from &&
      c.notAfter >= until &&
      c.node.checkIssued(parent.node) &&
      c.node.verify(parent.node.publicKey);
    if (usable(current)) return current;
    const stored = await readCaFile(file);
    if (usable(stored)) return stored;
    const issued = await issueIntermediate(level, parent, from, instanceId);
    await writeSecret(file, issued.text, false);
    return issued.issued;
  }
}

function addYears(ms: number, years: number): Date {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

function rootName(): string {
  return `${ORGANIZATION}, CN=${DOMAIN}`;
}

async function createRoot(now: number): Promise<{ issued: Issued; text: string }> {
  const keys = await newKeyPair();
  const notBefore = floorSecond(now) - HOUR;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: hex(16),
      subject: rootName(),
      issuer: rootName(),
      notBefore: new Date(notBefore),
      notAfter: addYears(notBefore, DEVELOPMENT_CA_LIFETIMES.rootYears),
      signingAlgorithm: SIGNING,
      publicKey: keys.spki,
      signingKey: keys.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.spki, false, crypto),
        new x509.KeyUsagesExtension(LEVELS.regional.usages, true),
      ],
    },
    crypto,
  );
  const der = new Uint8Array(cert.rawData);
  return {
    issued: await describeIssued(der, keys.signingKey),
    text: toPem('PRIVATE KEY', keys.pkcs8) + toPem('CERTIFICATE', der),
  };
}

async function issueIntermediate(
  level: Level,
  parent: Issued,
  from: number,
  instanceId?: string,
): Promise<{ issued: Issued; text: string }> {
  const spec = LEVELS[level];
  const keys = await newKeyPair();
  const cn =
    level === 'regional'
      ? `${hex(8)}.${REGION}.${DOMAIN}`
      : level === 'zonal'
        ? `${hex(8)}.zonal.${REGION}.${DOMAIN}`
        : `${instanceId}.${REGION}.${DOMAIN}`;
  // Start a little before the first document it must cover (clock skew), never before its parent.
  const notBefore = Math.max(parent.notBefore, floorSecond(from) - 5 * 60 * SECOND);
  const notAfter = Math.min(parent.notAfter, notBefore + spec.lifetime);
  const bc = new x509.BasicConstraintsExtension(true, spec.pathLen, true);
  const ku = new x509.KeyUsagesExtension(spec.usages, true);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.spki, false, crypto);
  const aki = new x509.AuthorityKeyIdentifierExtension(parent.subjectKeyId, false);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: hex(16),
      subject: `${ORGANIZATION}, CN=${cn}`,
      issuer: new x509.X509Certificate(parent.der).subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      signingAlgorithm: SIGNING,
      publicKey: keys.spki,
      signingKey: parent.signingKey,
      // AWS's order: regional and zonal carry BC, AKI, SKI, KU; instance certificates BC, KU, SKI, AKI.
      extensions: level === 'instance' ? [bc, ku, ski, aki] : [bc, aki, ski, ku],
    },
    crypto,
  );
  const der = new Uint8Array(cert.rawData);
  return {
    issued: await describeIssued(der, keys.signingKey),
    text: toPem('PRIVATE KEY', keys.pkcs8) + toPem('CERTIFICATE', der),
  };
}

async function issueLeaf(enclaveId: string, enclaveHex: string, issuer: Issued, at: number): Promise<Leaf> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const notBefore = Math.max(issuer.notBefore, floorSecond(at));
  const notAfter = Math.min(issuer.notAfter, notBefore + DEVELOPMENT_CA_LIFETIMES.leaf);
  const cert = await x509.X509CertificateGenerator.create(
    {
      // Like AWS's leaves, the serial starts with the 8-byte enclave ID.
      serialNumber: enclaveHex + hex(8),
      subject: `${ORGANIZATION}, CN=${enclaveId}.${REGION}.development`,
      issuer: new x509.X509Certificate(issuer.der).subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      signingAlgorithm: SIGNING,
      publicKey: spki,
      signingKey: issuer.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, false),
      ],
    },
    crypto,
  );
  return { der: new Uint8Array(cert.rawData), notBefore, notAfter, key: privateKey, issuer: issuer.der };
}

export interface CreateAttestationDocumentParams {
  readonly ca: DevelopmentCa;
  /** The module_id: `<parent instance id>-enc<16 hex>`. */
  readonly enclaveId: string;
  /** PCR index (0-31) → 48-byte value: the locked PCRs (real documents carry 0-15). */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
  readonly publicKey?: Uint8Array | null;
  /** Milliseconds since 1970 (from the caller's clock). */
  readonly timestamp: number;
  /**
   * When the development CA signs (ms since 1970): its certificates are issued to be valid then.
   * Default: `timestamp`. Re-signing a document another NSM made earlier signs now, not at its time.
   */
  readonly signedAt?: number;
}

/** The protected header of every Nitro document: bstr(4) {1: -35} (ES384). */
const PROTECTED = protectedHeader('ES384');

/** timestamp as hardware writes it: always the 8-byte form (1b …). */
function uint64(value: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = 0x1b;
  new DataView(out.buffer).setBigUint64(1, BigInt(value), false);
  return out;
}

/**
 * Makes a development attestation document: an untagged COSE_Sign1 [bstr {1:-35}, {}, payload,
 * 96-byte ES384 signature] whose payload is laid out like current hardware's (spec 2.1: an
 * indefinite-length map with the nine keys in their order, timestamp in the 8-byte form, pcrs a
 * definite map of 48-byte values, absent optional fields as null), cabundle = [root, regional,
 * zonal, instance] and certificate = the enclave's development leaf.
 */
export async function createAttestationDocument(params: CreateAttestationDocumentParams): Promise<Uint8Array> {
  const pcrs = [...params.pcrs].sort((a, b) => a[0] - b[0]);
  if (pcrs.length < 1 || pcrs.length > 32)
    throw new DevelopmentCaError(`a document carries 1 to 32 PCRs, not ${pcrs.length}`);
  for (const [i, v] of pcrs) {
    if (!Number.isInteger(i) || i < 0 || i > 31) throw new DevelopmentCaError(`PCR index ${i} is not 0 to 31`);
    if (v.length !== 48) throw new DevelopmentCaError(`PCR${i} is ${v.length} bytes, not 48`);
  }
  for (const [name, v] of [
    ['user_data', params.userData],
    ['nonce', params.nonce],
    ['public_key', params.publicKey],
  ] as const) {
    if (v && v.length > 1024) throw new DevelopmentCaError(`${name} is ${v.length} bytes; at most 1024 are allowed`);
  }
  const signer = await params.ca.signer(params.enclaveId, params.signedAt ?? params.timestamp);
  const optional = (v: Uint8Array | null | undefined) =>
    v === null || v === undefined ? Uint8Array.of(0xf6) : cborBytes(v);
  const payload = concatBytes(
    Uint8Array.of(0xbf),
    cborText('module_id'),
    cborText(params.enclaveId),
    cborText('digest'),
    cborText('SHA384'),
    cborText('timestamp'),
    uint64(params.timestamp),
    cborText('pcrs'),
    cborHead(5, pcrs.length),
    ...pcrs.flatMap(([i, v]) => [cborHead(0, i), cborBytes(v)]),
    cborText('certificate'),
    cborBytes(signer.certificate),
    cborText('cabundle'),
    cborHead(4, signer.cabundle.length),
    ...signer.cabundle.map((c) => cborBytes(c)),
    cborText('public_key'),
    optional(params.publicKey),
    cborText('user_data'),
    optional(params.userData),
    cborText('nonce'),
    optional(params.nonce),
    Uint8Array.of(0xff),
  );
  const signature = signer.sign(sigStructure(PROTECTED, payload));
  if (signature.length !== 96) throw new DevelopmentCaError(`the ES384 signature is ${signature.length} bytes, not 96`);
  return encodeCoseSign1(PROTECTED, payload, signature);
}

/** The attestation port of an NsmDevice: documents signed by `ca` at the time `now()` gives. */
export function developmentAttestPort(
  ca: DevelopmentCa,
  now: () => number = Date.now,
): (fields: {
  readonly moduleId: string;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
  readonly publicKey: Uint8Array | null;
}) => Promise<Uint8Array> {
  return (fields) =>
    createAttestationDocument({
      ca,
      enclaveId: fields.moduleId,
      pcrs: fields.pcrs,
      userData: fields.userData,
      nonce: fields.nonce,
      publicKey: fields.publicKey,
      timestamp: now(),
    });
}

/**
 * The development root certificate of `stateDir` as PEM (created on first use), to pass to a verifier or
 * `openssl verify -CAfile`.
 */
export async function exportDevelopmentRoot(stateDir: string): Promise<string> {
  return (await DevelopmentCa.load(stateDir)).rootPem;
}
