// Small structural types shared by the engine and its hosts. They mirror the shapes of VS Code's
// Disposable, Event and CancellationToken so that the extension can pass its own objects in
// (src/extension/adapters.ts checks that with `satisfies`), while the engine never imports vscode.

export interface DisposableLike {
  dispose(): void;
}

/** Subscribes a listener; the returned object unsubscribes it. */
export type EventLike<T> = (listener: (value: T) => void) => DisposableLike;

export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested: EventLike<unknown>;
}

/** A typed event source: `event` is handed out, `fire` stays with the owner. */
export class Emitter<T> implements DisposableLike {
  private listeners = new Set<(value: T) => void>();
  private disposed = false;

  readonly event: EventLike<T> = (listener) => {
    if (this.disposed) return { dispose: () => undefined };
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  };

  /** Calls every listener; one listener throwing does not keep the others from running. */
  fire(value: T): void {
    const errors: unknown[] = [];
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} event listeners failed`);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

const CANCELLED: unique symbol = Symbol.for('nitro-enclaves.CancelledError');

/** The error an operation throws when its CancellationLike was cancelled. */
export class CancelledError extends Error {
  /**
   * The extension loads parts of the engine from sibling bundles (esbuild.config.mjs), each with its
   * own copy of this class: `instanceof` goes by a mark that every copy puts on its errors.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [CANCELLED]?: unknown })[CANCELLED] === true;
  }

  readonly [CANCELLED] = true;

  constructor(what = 'operation') {
    super(`${what} cancelled`);
    this.name = 'CancelledError';
  }
}

/** Throws CancelledError when `token` has been cancelled. */
export function throwIfCancelled(token: CancellationLike | undefined, what?: string): void {
  if (token?.isCancellationRequested) throw new CancelledError(what);
}
