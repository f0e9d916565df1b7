// The webview side of the host connection. acquireVsCodeApi() may be called only once per page,
// so every webview goes through this module. Messages from the host go to the webview's message
// handler (src/shared/messages.ts, the same handler the host uses for the webview's messages);
// answers to this page's requests resolve them instead.
import { RESPONSE, createMessageHandler, type MessageHandlerOptions } from '../../shared/messages';
import type { HostEnvelope, WebviewEnvelope } from '../../shared/protocol';

interface VsCodeApi<TState> {
  postMessage(message: unknown): void;
  getState(): TState | undefined;
  setState(state: TState): void;
}

declare function acquireVsCodeApi<TState>(): VsCodeApi<TState>;

export class HostConnection<TState, M extends { readonly type: string }> {
  private readonly api = acquireVsCodeApi<TState>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (body: unknown) => void; reject: (e: Error) => void }>();

  constructor(options: Pick<MessageHandlerOptions<M>, 'parse' | 'handlers'>) {
    const handle = createMessageHandler<M>({ ...options, onFailed: (type, e) => console.error(`${type} failed`, e) });
    window.addEventListener('message', (event: MessageEvent<unknown>) => {
      const message = event.data as HostEnvelope | null;
      if (
        typeof message === 'object' &&
        message !== null &&
        message.type === RESPONSE &&
        message.inReplyTo !== undefined
      ) {
        const waiter = this.pending.get(message.inReplyTo);
        if (!waiter) return;
        this.pending.delete(message.inReplyTo);
        if (message.error !== undefined) waiter.reject(new Error(message.error));
        else waiter.resolve(message.body);
        return;
      }
      void handle(message);
    });
  }

  /** Sends a notification (no answer expected). */
  post<T extends string>(type: T, body?: unknown): void {
    const message: WebviewEnvelope<T> = body === undefined ? { type } : { type, body };
    this.api.postMessage(message);
  }

  /**
   * Sends a request; resolves with the host's answer, or rejects with the host's reason (a refused
   * message, a failed action).
   */
  request<T extends string, R = unknown>(type: T, body?: unknown): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (b: unknown) => void, reject });
      this.api.postMessage((body === undefined ? { type, id } : { type, id, body }) satisfies WebviewEnvelope<T>);
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

/** Which cards of a page are collapsed, kept in the webview state (`collapsed`) across reloads. */
export function collapsedCards(connection: { state: { readonly collapsed?: readonly string[] } | undefined }): {
  isCollapsed: (card: string) => boolean;
  setCollapsed: (card: string, value: boolean) => void;
} {
  const collapsed = new Set<string>(connection.state?.collapsed ?? []);
  return {
    isCollapsed: (card) => collapsed.has(card),
    setCollapsed: (card, value) => {
      if (value) collapsed.add(card);
      else collapsed.delete(card);
      connection.state = { ...connection.state, collapsed: [...collapsed] };
    },
  };
}
