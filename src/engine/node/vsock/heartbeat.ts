// The parent's side of the enclave boot heartbeat: run-enclave listens on (CID 3, port 9000) before
// the enclave starts; the enclave's init connects and sends 0xB7; the parent echoes it, and the
// enclave counts as started (spec: eif.md section 7.10 step 8).
import type * as net from 'node:net';
import { HEARTBEAT_BYTE, HEARTBEAT_PORT, PARENT_CID, listenVsock } from './endpoints';

/** What came on the heartbeat port: the heartbeat (echoed), or another byte (not echoed). */
export type HeartbeatOutcome = { readonly ok: true } | { readonly ok: false; readonly byte: number };

/** The heartbeat address: the parent's port 9000. */
export const HEARTBEAT_ADDRESS = { cid: PARENT_CID, port: HEARTBEAT_PORT } as const;

/**
 * A listener on the parent's heartbeat port that takes one heartbeat. The first connection that
 * sends a byte decides: 0xB7 is echoed and `outcome` is ok; another byte is the outcome as it is.
 * A connection that closes without a byte decides nothing (on the emulator, another run-enclave
 * checking whether the port's listener is alive does that). The listener closes (its file goes)
 * once the outcome is known, or on close().
 */
export class HeartbeatListener {
  readonly outcome: Promise<HeartbeatOutcome>;
  private settle!: (o: HeartbeatOutcome) => void;
  private settled = false;
  private server: net.Server | undefined;

  private constructor() {
    this.outcome = new Promise((r) => (this.settle = r));
  }

  /** Listens on the heartbeat port of a parent's vsock folder; VsockInUseError when someone else does. */
  static async listen(dir: string): Promise<HeartbeatListener> {
    const listener = new HeartbeatListener();
    listener.server = await listenVsock(dir, HEARTBEAT_ADDRESS, (socket) => listener.accept(socket));
    return listener;
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.settled) {
      socket.destroy();
      return;
    }
    socket.once('data', (b: Buffer) => {
      if (this.settled) {
        socket.destroy();
        return;
      }
      this.settled = true;
      const byte = b[0] as number;
      if (byte === HEARTBEAT_BYTE) {
        socket.end(Buffer.of(HEARTBEAT_BYTE));
        this.settle({ ok: true });
      } else {
        socket.destroy();
        this.settle({ ok: false, byte });
      }
      this.close();
    });
  }

  /** Stops listening (the endpoint file goes); connections already accepted finish on their own. */
  close(): void {
    this.server?.close();
    this.server = undefined;
  }
}
