// The local KMS's keys, on disk at <state>/kms/keys.json (the folder 0700, the file 0600, written
// atomically: a temporary file replaces it once complete). Each key is a symmetric key
// (SYMMETRIC_DEFAULT) with its 32 bytes of AES-256 key material, its key policy and metadata. The
// file is read again for every request, so that two endpoints on one state folder (the extension's
// and `nitro-dev kms serve`) see each other's keys; updates in one process run one at a time. A
// file that cannot be read is never replaced: every request fails with a message that names it.
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { writeAtomically } from '../atomicFile';

export const KMS_STORE_FORMAT = 'nitro-dev local KMS keys';
/** The largest keys.json read (about 20 000 keys with large policies). */
const MAX_STORE_BYTES = 64 * 1024 * 1024;

export interface StoredKey {
  readonly keyId: string;
  readonly region: string;
  readonly account: string;
  /** Seconds since 1970 (KMS's CreationDate). */
  readonly creationDate: number;
  readonly description: string;
  /** The key policy, as given (JSON text). */
  readonly policy: string;
  /** The AES-256 key material, base64 (32 bytes). */
  readonly material: string;
}

export class KmsStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmsStoreError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkKey(v: unknown, i: number, file: string): StoredKey {
  const bad = (why: string) => new KmsStoreError(`${file}: key ${i + 1} ${why}; move the file away to start afresh`);
  if (typeof v !== 'object' || v === null) throw bad('is not an object');
  const k = v as Record<string, unknown>;
  if (typeof k.keyId !== 'string' || !UUID.test(k.keyId)) throw bad('has no valid keyId');
  if (typeof k.region !== 'string' || !/^[a-z0-9-]{1,32}$/.test(k.region)) throw bad('has no valid region');
  if (typeof k.account !== 'string' || !/^\d{12}$/.test(k.account)) throw bad('has no valid account');
  if (typeof k.creationDate !== 'number' || !Number.isFinite(k.creationDate)) throw bad('has no creationDate');
  if (typeof k.description !== 'string') throw bad('has no description');
  if (typeof k.policy !== 'string') throw bad('has no policy');
  if (typeof k.material !== 'string' || Buffer.from(k.material, 'base64').length !== 32)
    throw bad('has no 32-byte key material');
  return {
    keyId: k.keyId,
    region: k.region,
    account: k.account,
    creationDate: k.creationDate,
    description: k.description,
    policy: k.policy,
    material: k.material,
  };
}

export class KmsKeyStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** The store of a state folder: `<stateDir>/kms/keys.json`. */
  static of(stateDir: string): KmsKeyStore {
    return new KmsKeyStore(path.join(stateDir, 'kms', 'keys.json'));
  }

  /** Every key (none when the file does not exist yet). */
  async read(): Promise<StoredKey[]> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new KmsStoreError(`${this.file} cannot be read: ${(e as Error).message}`);
    }
    let text: string;
    try {
      const size = (await handle.stat()).size;
      if (size > MAX_STORE_BYTES)
        throw new KmsStoreError(`${this.file} is ${size} bytes, more than the ${MAX_STORE_BYTES} a key store may have`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new KmsStoreError(`${this.file} is not JSON (${(e as Error).message}); move it away to start afresh`);
    }
    const o = json as { format?: unknown; version?: unknown; keys?: unknown };
    if (typeof json !== 'object' || json === null || o.format !== KMS_STORE_FORMAT || o.version !== 1)
      throw new KmsStoreError(`${this.file} is not a local KMS key store (format "${KMS_STORE_FORMAT}", version 1)`);
    if (!Array.isArray(o.keys)) throw new KmsStoreError(`${this.file} has no list of keys`);
    return o.keys.map((k, i) => checkKey(k, i, this.file));
  }

  /** Reads the keys, lets `change` alter the list, and writes it back (one update at a time). */
  update<T>(change: (keys: StoredKey[]) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const keys = await this.read();
      const result = change(keys);
      await this.write(keys);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(keys: readonly StoredKey[]): Promise<void> {
    const dir = path.dirname(this.file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32' && ((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
    const bytes = Buffer.from(`${JSON.stringify({ format: KMS_STORE_FORMAT, version: 1, keys }, null, 2)}\n`, 'utf8');
    await writeAtomically(this.file, (write) => write(bytes, 0), { mode: 0o600 });
  }
}
