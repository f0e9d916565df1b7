// The one message handler both sides of a webview use (src/shared/messages.ts): checks, dispatch
// by type, and answers to requests.
import * as assert from 'node:assert/strict';
import {
  RESPONSE,
  createMessageHandler,
  parseHostEnvelope,
  requestId,
  type Parsed,
} from '../../../src/shared/messages';
import type { HostEnvelope } from '../../../src/shared/protocol';
import {
  parseHostMessage as parseEifHost,
  parseWebviewMessage as parseEifWebview,
} from '../../../src/shared/eifViewer';
import { parseHostMessage as parseAttestationHost } from '../../../src/shared/attestationViewer';

type Msg =
  | { readonly type: 'ping' }
  | { readonly type: 'add'; readonly body: { readonly a: number; readonly b: number } }
  | { readonly type: 'boom' };

function parse(value: unknown): Parsed<Msg> {
  const v = value as { type?: unknown; body?: { a?: unknown; b?: unknown } } | null;
  if (v?.type === 'ping' || v?.type === 'boom') return { ok: true, message: { type: v.type } };
  if (v?.type === 'add' && typeof v.body?.a === 'number' && typeof v.body.b === 'number')
    return { ok: true, message: { type: 'add', body: { a: v.body.a, b: v.body.b } } };
  return { ok: false, reason: 'not a message of the test protocol' };
}

function setup() {
  const replies: HostEnvelope[] = [];
  const refused: string[] = [];
  const failed: string[] = [];
  const seen: string[] = [];
  const handle = createMessageHandler<Msg>({
    parse,
    handlers: {
      ping: () => void seen.push('ping'),
      add: async ({ body }) => body.a + body.b,
      boom: () => {
        throw new Error('it broke');
      },
    },
    reply: (answer) => replies.push(answer),
    onRefused: (reason) => refused.push(reason),
    onFailed: (type, e) => failed.push(`${type}: ${(e as Error).message}`),
  });
  return { handle, replies, refused, failed, seen };
}

describe('(unit) shared message handler', () => {
  it('runs the handler of the message type; a notification gets no answer', async () => {
    const t = setup();
    assert.deepEqual(await t.handle({ type: 'ping' }), { ok: true });
    assert.deepEqual(t.seen, ['ping']);
    assert.deepEqual(t.replies, []);
  });

  it("answers a request with the handler's result", async () => {
    const t = setup();
    await t.handle({ type: 'add', id: 7, body: { a: 2, b: 3 } });
    assert.deepEqual(t.replies, [{ type: RESPONSE, inReplyTo: 7, body: 5 }]);
    await t.handle({ type: 'ping', id: 8 });
    assert.deepEqual(t.replies[1], { type: RESPONSE, inReplyTo: 8 });
  });

  it('refuses what the parser refuses, and says why to a request', async () => {
    const t = setup();
    assert.deepEqual(await t.handle({ type: 'add', id: 1, body: { a: '2' } }), {
      ok: false,
      reason: 'not a message of the test protocol',
    });
    assert.deepEqual(await t.handle('nonsense'), { ok: false, reason: 'not a message of the test protocol' });
    assert.deepEqual(t.refused.length, 2);
    assert.deepEqual(t.replies, [{ type: RESPONSE, inReplyTo: 1, error: 'not a message of the test protocol' }]);
  });

  it('a failing handler is reported, answered with its error, and never rejects', async () => {
    const t = setup();
    assert.deepEqual(await t.handle({ type: 'boom', id: 3 }), { ok: true });
    assert.deepEqual(t.failed, ['boom: it broke']);
    assert.deepEqual(t.replies, [{ type: RESPONSE, inReplyTo: 3, error: 'it broke' }]);
  });

  it('requestId: only a non-negative safe integer', () => {
    assert.equal(requestId({ id: 0 }), 0);
    for (const v of [{ id: -1 }, { id: 1.5 }, { id: '1' }, { id: 2 ** 53 }, null, 'x', {}])
      assert.equal(requestId(v), undefined, JSON.stringify(v));
  });

  it("parseHostEnvelope: a known type whose body passes that type's check", () => {
    const checks = { init: (b: Record<string, unknown>) => typeof b['n'] === 'number' };
    type Init = HostEnvelope<'init', { n: number }>;
    assert.ok(parseHostEnvelope<Init>({ type: 'init', body: { n: 1 } }, 'the test', checks).ok);
    for (const v of [
      { type: 'init', body: { n: '1' } },
      { type: 'init' },
      { type: 'init', body: [] },
      { type: 'toString', body: {} },
      { type: 'other', body: { n: 1 } },
      null,
      3,
    ]) {
      assert.equal(parseHostEnvelope<Init>(v, 'the test', checks).ok, false, JSON.stringify(v));
    }
  });

  it("the viewers' host messages and the EIF viewer's copy request go through their protocols", async () => {
    assert.ok(parseEifHost({ type: 'progress', body: { done: 1, total: 2 } }).ok);
    assert.equal(parseEifHost({ type: 'progress', body: { done: '1', total: 2 } }).ok, false);
    assert.ok(parseAttestationHost({ type: 'busy', body: {} }).ok);
    assert.equal(parseAttestationHost({ type: 'persist', body: { state: null } }).ok, false);
    const replies: HostEnvelope[] = [];
    const copied: string[] = [];
    const handle = createMessageHandler({
      parse: parseEifWebview,
      handlers: {
        ready: () => undefined,
        copy: ({ body }) => void copied.push(body.text),
        copyKmsCondition: ({ body }) => void copied.push(`kms ${body.pcr} ${body.key}`),
        describe: () => undefined,
        reload: () => undefined,
        run: () => void copied.push('run'),
        sign: () => void copied.push('sign'),
        kmsPolicy: () => void copied.push('kmsPolicy'),
      },
      reply: (a) => replies.push(a),
    });
    await handle({ type: 'copy', id: 4, body: { text: 'abc', what: 'PCR0' } });
    await handle({ type: 'copy', id: 5, body: { text: 'x'.repeat(70 * 1024), what: 'PCR0' } });
    await handle({ type: 'copyKmsCondition', id: 6, body: { pcr: 0, key: 'ImageSha384' } });
    await handle({ type: 'copyKmsCondition', id: 7, body: { pcr: 3, key: 'ImageSha384' } });
    assert.deepEqual(copied, ['abc', 'kms 0 ImageSha384']);
    assert.deepEqual(replies[0], { type: RESPONSE, inReplyTo: 4 });
    assert.match(replies[1]?.error ?? '', /longer than/);
    assert.deepEqual(replies[2], { type: RESPONSE, inReplyTo: 6 });
    assert.match(replies[3]?.error ?? '', /only PCR0 has the ImageSha384 key/);
  });

  it("the EIF viewer's image actions reach their handlers, only without a body (the file is the viewer)", async () => {
    const ran: string[] = [];
    const refused: string[] = [];
    const handle = createMessageHandler({
      parse: parseEifWebview,
      handlers: {
        ready: () => undefined,
        copy: () => undefined,
        copyKmsCondition: () => undefined,
        describe: () => undefined,
        reload: () => undefined,
        run: () => void ran.push('run'),
        sign: () => void ran.push('sign'),
        kmsPolicy: () => void ran.push('kmsPolicy'),
      },
      onRefused: (reason) => refused.push(reason),
    });
    for (const type of ['run', 'sign', 'kmsPolicy']) assert.deepEqual(await handle({ type }), { ok: true });
    assert.deepEqual(ran, ['run', 'sign', 'kmsPolicy']);
    // A webview cannot name another file for an action.
    const other = await handle({ type: 'sign', body: { uri: 'file:///etc/passwd' } });
    assert.equal(other.ok, false);
    assert.match(refused[0] ?? '', /^sign: takes no body/);
    assert.equal((await handle({ type: 'runAll' })).ok, false);
    assert.deepEqual(ran, ['run', 'sign', 'kmsPolicy']);
  });
});
