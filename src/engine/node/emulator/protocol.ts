// The wire format between the emulator's clients and an enclave's host process, over the host's
// Unix domain socket (a named pipe on Windows), `<state>/enclaves/<enclave id>.sock`.
//
// Every message is a frame: a 4-byte big-endian payload length, one kind byte, then the payload.
//   kind 0x4A 'J': UTF-8 JSON            kind 0x42 'B': raw bytes
// Requests are one J frame `{ "op": ... }`:
//   { op: "start" }                         -> J { ok: true }: run-enclave has reached the host, which
//                                              now starts the attached application (once)
//   { op: "describe", metadata?: boolean } -> J { ok: true, result: DescribeEnclaveJson }
//   { op: "terminate" }                     -> J { ok: true, result: TerminateEnclaveJson } (after the
//                                              host has stopped the application and removed its files;
//                                              the host then exits)
//   { op: "console" }                       -> J { ok: true }, then B frames: the console so far,
//                                              then live output; the host closes the connection when
//                                              the enclave ends. Refused for non-debug enclaves.
//   { op: "nsm" } followed by one B frame (the NSM request's CBOR)
//                                           -> J { ok: true } followed by one B frame (the response)
// A refused request is answered J { ok: false, code: <nitro-cli error number>, message }.
//
// The enclave's application talks to the NSM through a second socket (`NITRO_NSM_SOCKET`) with the
// framing of the Nitro NSM device's request/response buffers: a 4-byte big-endian length and the
// CBOR request; the response comes back framed the same way. One request at a time per connection.
import * as net from 'node:net';
import { BackendError } from '../../platform/backend';

export const KIND_JSON = 0x4a;
export const KIND_BYTES = 0x42;
/** Largest frame either side accepts. */
export const MAX_FRAME = 16 * 1024 * 1024;

export type Frame =
  | { readonly kind: typeof KIND_JSON; readonly json: unknown }
  | { readonly kind: typeof KIND_BYTES; readonly bytes: Uint8Array };

export function encodeFrame(frame: { json: unknown } | { bytes: Uint8Array }): Buffer {
  const payload =
    'json' in frame
      ? Buffer.from(JSON.stringify(frame.json), 'utf8')
      : Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 0);
  head[4] = 'json' in frame ? KIND_JSON : KIND_BYTES;
  return Buffer.concat([head, payload]);
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly max: number = MAX_FRAME) {}

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    while (this.buffer.length >= 5) {
      const length = this.buffer.readUInt32BE(0);
      if (length > this.max) throw new Error(`frame of ${length} bytes is larger than ${this.max}`);
      if (this.buffer.length < 5 + length) break;
      const kind = this.buffer[4];
      const payload = this.buffer.subarray(5, 5 + length);
      this.buffer = this.buffer.subarray(5 + length);
      if (kind === KIND_JSON) frames.push({ kind: KIND_JSON, json: JSON.parse(payload.toString('utf8')) });
      else if (kind === KIND_BYTES) frames.push({ kind: KIND_BYTES, bytes: new Uint8Array(payload) });
      else throw new Error(`unknown frame kind ${kind}`);
    }
    return frames;
  }
}

/** The NSM socket's framing: 4-byte big-endian length + payload. */
export class LengthPrefixedReader {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  constructor(private readonly max: number) {}

  /** Received bytes not yet taken by next(). */
  get buffered(): number {
    return this.buffer.length - this.offset;
  }

  append(chunk: Buffer): void {
    const rest = this.buffer.subarray(this.offset);
    this.offset = 0;
    this.buffer = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
  }

  /**
   * The next complete message (a copy), or undefined until more bytes come; throws on a message larger than the limit.
   */
  next(): Uint8Array | undefined {
    if (this.buffered < 4) return undefined;
    const length = this.buffer.readUInt32BE(this.offset);
    if (length > this.max) throw new Error(`message of ${length} bytes is larger than ${this.max}`);
    if (this.buffered < 4 + length) return undefined;
    const message = new Uint8Array(this.buffer.subarray(this.offset + 4, this.offset + 4 + length));
    this.offset += 4 + length;
    if (this.offset === this.buffer.length) {
      this.buffer = Buffer.alloc(0);
      this.offset = 0;
    }
    return message;
  }

  push(chunk: Buffer): Uint8Array[] {
    this.append(chunk);
    const out: Uint8Array[] = [];
    for (let m = this.next(); m; m = this.next()) out.push(m);
    return out;
  }
}

export function lengthPrefixed(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([head, bytes]);
}

/** Why a host could not be reached: `gone` (no socket / refused: the host is not there), or `timeout`. */
export class HostUnreachableError extends Error {
  constructor(
    readonly reason: 'gone' | 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'HostUnreachableError';
  }
}

interface HostReply {
  readonly json: { ok: boolean; result?: unknown; code?: number; message?: string };
  readonly bytes?: Uint8Array;
}

/** Sends one request (and an optional bytes frame) and reads the JSON reply (and a bytes frame when `expectBytes`). */
export function requestHost(
  socketPath: string,
  json: unknown,
  options: { bytes?: Uint8Array; expectBytes?: boolean; timeoutMs?: number } = {},
): Promise<HostReply> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const reader = new FrameReader();
    let reply: HostReply['json'] | undefined;
    let settled = false;
    const done = (error: Error | undefined, value?: HostReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value as HostReply);
    };
    const timer = setTimeout(
      () => done(new HostUnreachableError('timeout', `the enclave host at ${socketPath} did not answer in time`)),
      options.timeoutMs ?? 5000,
    );
    socket.on('connect', () => {
      socket.write(encodeFrame({ json }));
      if (options.bytes) socket.write(encodeFrame({ bytes: options.bytes }));
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        done(e as Error);
        return;
      }
      for (const f of frames) {
        if (reply === undefined) {
          if (f.kind !== KIND_JSON) return done(new Error('the enclave host answered with bytes before its reply'));
          reply = f.json as HostReply['json'];
          if (!reply.ok || !options.expectBytes) return done(undefined, { json: reply });
        } else if (f.kind === KIND_BYTES) {
          return done(undefined, { json: reply, bytes: f.bytes });
        }
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const gone = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK';
      done(gone ? new HostUnreachableError('gone', `the enclave host at ${socketPath} is not running (${e.code})`) : e);
    });
    socket.on('close', () =>
      done(
        new HostUnreachableError('closed', `the enclave host at ${socketPath} closed the connection without a reply`),
      ),
    );
  });
}

/** A reply's result, or its refusal as the BackendError it carries. */
export function resultOf<T>(reply: HostReply): T {
  if (!reply.json.ok)
    throw new BackendError(reply.json.code ?? 0, reply.json.message ?? 'the enclave host refused the request');
  return reply.json.result as T;
}
