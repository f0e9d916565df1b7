// The one message handler of a webview's protocol, used on both sides: the extension host handles
// what its webview sends with it, and each webview handles what its host sends with it. It checks
// an untrusted message with the protocol's parser, runs the handler of its type, and answers a
// request (a message with an `id`) with a `response` carrying the handler's result or its error.
import type { HostEnvelope } from './protocol';

/** The type of every answer to a request; `inReplyTo` names the request. */
export const RESPONSE = 'response';

/** What a side does with each type of message it accepts; the value a handler returns answers a request. */
export type MessageHandlers<M extends { readonly type: string }> = {
  readonly [K in M['type']]: (message: Extract<M, { readonly type: K }>) => unknown;
};

export type Parsed<M> = { readonly ok: true; readonly message: M } | { readonly ok: false; readonly reason: string };

export interface MessageHandlerOptions<M extends { readonly type: string }> {
  /** Checks an untrusted message: the typed message, or a sentence saying why it is refused. */
  readonly parse: (value: unknown) => Parsed<M>;
  readonly handlers: MessageHandlers<M>;
  /** Sends the answer to a request back to the other side (absent: requests are not answered). */
  readonly reply?: (answer: HostEnvelope<typeof RESPONSE>) => void;
  /** Told why a message was refused. */
  readonly onRefused?: (reason: string) => void;
  /** Told when a handler threw or rejected (the request, if it was one, is answered with the error). */
  readonly onFailed?: (type: M['type'], error: unknown) => void;
}

export type HandleResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The `id` of a request: a non-negative safe integer in the envelope, else undefined. */
export function requestId(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/**
 * Checks a message from the host by its type: a `body` object that passes the check of its type.
 * (The host is trusted; this keeps a stray message from reaching a handler with the wrong shape.)
 */
export function parseHostEnvelope<M extends HostEnvelope>(
  value: unknown,
  protocol: string,
  bodyChecks: { readonly [K in M['type']]: (body: Record<string, unknown>) => boolean },
): Parsed<M> {
  const m = value as HostEnvelope | null;
  const type = typeof m === 'object' && m !== null ? m.type : undefined;
  const check =
    typeof type === 'string' && Object.hasOwn(bodyChecks, type)
      ? (bodyChecks as Record<string, (body: Record<string, unknown>) => boolean>)[type]
      : undefined;
  const body = m?.body;
  if (
    !check ||
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    !check(body as Record<string, unknown>)
  ) {
    return {
      ok: false,
      reason: `not a message of ${protocol} protocol (type ${JSON.stringify(type) ?? typeof value})`,
    };
  }
  return { ok: true, message: m as M };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The handler of one side of a protocol. Resolves, never rejects, once the message has been
 * handled (and a request answered), with whether the message was accepted.
 */
export function createMessageHandler<M extends { readonly type: string }>(
  options: MessageHandlerOptions<M>,
): (value: unknown) => Promise<HandleResult> {
  return async (value) => {
    const id = requestId(value);
    const answer = (result: { body: unknown } | { error: string }) => {
      if (id === undefined || !options.reply) return;
      options.reply(
        'error' in result
          ? { type: RESPONSE, inReplyTo: id, error: result.error }
          : { type: RESPONSE, inReplyTo: id, ...(result.body !== undefined ? { body: result.body } : {}) },
      );
    };
    const parsed = options.parse(value);
    if (!parsed.ok) {
      options.onRefused?.(parsed.reason);
      answer({ error: parsed.reason });
      return { ok: false, reason: parsed.reason };
    }
    const { message } = parsed;
    const handler = options.handlers[message.type as M['type']] as (m: M) => unknown;
    try {
      answer({ body: await handler(message) });
    } catch (e) {
      options.onFailed?.(message.type, e);
      answer({ error: errorText(e) });
    }
    return { ok: true };
  };
}
