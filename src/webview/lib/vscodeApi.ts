// The webview side of the host connection. acquireVsCodeApi() may be called only once per page,
// so every webview goes through this module.
import type { HostEnvelope, WebviewEnvelope } from '../../shared/protocol';

interface VsCodeApi<TState> {
  postMessage(message: unknown): void;
  getState(): TState | undefined;
  setState(state: TState): void;
}

declare function acquireVsCodeApi<TState>(): VsCodeApi<TState>;

export class HostConnection<TState> {
  private readonly api = acquireVsCodeApi<TState>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (body: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly onMessage: (message: HostEnvelope) => void) {
    window.addEventListener('message', (event: MessageEvent<unknown>) => {
      const message = event.data as HostEnvelope;
      if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
      if (message.inReplyTo !== undefined) {
        const waiter = this.pending.get(message.inReplyTo);
        if (!waiter) return;
        this.pending.delete(message.inReplyTo);
        if (message.error !== undefined) waiter.reject(new Error(message.error));
        else waiter.resolve(message.body);
        return;
      }
      this.onMessage(message);
    });
  }

  /** Sends a notification (no answer expected). */
  post<T extends string>(type: T, body?: unknown): void {
    const message: WebviewEnvelope<T> = body === undefined ? { type } : { type, body };
    this.api.postMessage(message);
  }

  /** Sends a request and resolves with the host's answer. */
  request<T extends string, R>(type: T, body?: unknown): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (b: unknown) => void, reject });
      this.api.postMessage({ type, id, body } satisfies WebviewEnvelope<T>);
    });
  }

  /** View state only (selection, scroll); data always comes from the host again. */
  get state(): TState | undefined {
    return this.api.getState();
  }

  set state(value: TState) {
    this.api.setState(value);
  }
}
