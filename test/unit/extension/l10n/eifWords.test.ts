// The image side of the extension in a language other than English: the Enclave Image Viewer's view
// model (its own problem texts and the signing certificate's expiry warning), the build requests'
// messages, and the viewer's page. With a stand-in `l10n.t` that marks each message it words, no
// word of the extension's own may be left unmarked; the engine's texts (English by design) are data.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledError, parseCommandLine } from '../../../../src/engine';
import { inspectEif } from '../../../../src/engine/node';
import type { BlobsFolderStatus } from '../../../../src/engine/node';
import { toEifViewModel, toViewError } from '../../../../src/extension/editors/eifViewModel';
import { blobsPrompt, normalizeRequest, substitute } from '../../../../src/extension/imagebuild/buildRequest';
import { formatMessage, useVscodeL10n } from '../../../../src/extension/l10n';
import type { EifViewModel } from '../../../../src/shared/eifViewer';
import { repoPath, ROOT } from '../../repo';
import { pageLiterals } from './bareStrings';

/** The stand-in: the message as written between ⟦ ⟧, then each argument between ‹ ›. */
const mark = (message: string, ...args: Array<string | number | boolean>) =>
  `⟦${message}⟧${args.map((a) => `‹${String(a)}›`).join('')}`;

/**
 * The words of `text` that no message marked: the marked messages and the given data (file names,
 * the engine's texts, values the person typed) left out. Dates and numbers hold no words.
 */
function unmarkedWords(text: string, data: readonly string[] = []): string[] {
  let rest = text.replace(/⟦[^⟦⟧]*⟧/g, ' ');
  for (const d of data) rest = rest.split(d).join(' ');
  return rest.match(/[A-Za-z]{2,}/g) ?? [];
}

const SIGNED = repoPath('test', 'fixtures', 'eif', 'synthetic-v4-signed.eif');
const DAY = 24 * 3600 * 1000;

describe('(unit) localization: the image side words everything it shows with l10n.t', () => {
  before(() => useVscodeL10n(mark));
  after(() => useVscodeL10n((message, ...args) => formatMessage(message, args)));

  it('marks the stand-in and finds a word left out of it', () => {
    assert.deepEqual(unmarkedWords(mark('The file {0} is gone', '/x/a.eif'), ['/x/a.eif']), []);
    assert.deepEqual(unmarkedWords(`${mark('The file {0}', 'a')} is gone`, ['a']), ['is', 'gone']);
  });

  it('says why a file cannot be shown in words of its own (the system’s reason is data)', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: system words`), { code });
    const errors = [
      ...['ENOENT', 'FileNotFound', 'EACCES', 'EPERM', 'NoPermissions', 'EISDIR', 'FileIsADirectory'].map(errno),
      new Error('the disk said no'),
      'a thrown string',
      new CancelledError('measuring the enclave image'),
    ];
    for (const e of errors) {
      const view = toViewError('/images/app.eif', e);
      const data = [e instanceof Error ? e.message : String(e)];
      assert.deepEqual(unmarkedWords(view.message, data), [], view.message);
    }
  });

  describe('the view model of an image', () => {
    let inspection: Awaited<ReturnType<typeof inspectEif>>;
    let notBefore: number;
    let notAfter: number;
    before(async () => {
      inspection = await inspectEif(SIGNED, { at: new Date('2024-06-01T00:00:00Z') });
      const cert = inspection.signature?.certificate;
      assert.ok(cert, 'the fixture is signed');
      notBefore = cert.notBefore.getTime();
      notAfter = cert.notAfter.getTime();
    });

    const modelAt = async (at: number): Promise<EifViewModel> =>
      toEifViewModel(await inspectEif(SIGNED, { at: new Date(at) }), { path: SIGNED });

    it('words the signing certificate’s expiry warning: expired, not yet valid, expiring soon', async () => {
      for (const at of [notAfter + DAY, notBefore - DAY, notAfter - 10 * DAY, notAfter - 1000]) {
        const model = await modelAt(at);
        assert.ok(model.signature?.ok && model.signature.expiryWarning, new Date(at).toISOString());
        const { message } = model.signature.expiryWarning;
        assert.deepEqual(unmarkedWords(message), [], message);
      }
    });

    it('words its own reason when a metadata or signature section cannot be read', () => {
      const broken = {
        ...inspection,
        metadata: {},
        signature: { checkedAt: new Date('2024-06-01T00:00:00Z') },
      } as unknown as typeof inspection;
      const model = toEifViewModel(broken, { path: SIGNED });
      assert.ok(model.metadata && !model.metadata.ok);
      assert.ok(model.signature && !model.signature.ok);
      assert.deepEqual(unmarkedWords(model.metadata.error), [], model.metadata.error);
      assert.deepEqual(unmarkedWords(model.signature.error), [], model.signature.error);
    });
  });

  it('words every reason a build request is refused (the engine’s reason and the typed values are data)', () => {
    const quote = parseCommandLine('"/app/x');
    assert.ok(!quote.ok);
    const cases: [Record<string, unknown>, string | undefined, string[]][] = [
      [{ output: 'a.eif' }, '/ws', []],
      [{ ociLayout: 'x', rootfs: 'r', imageArchive: 'y', output: 'a.eif' }, '/ws', []],
      [{ rootfs: 'r', output: 'a.eif' }, '/ws', []],
      [{ rootfs: 'r', cmd: '"/app/x', output: 'a.eif' }, '/ws', [quote.reason]],
      [{ rootfs: 'r', cmd: '"" x', output: 'a.eif' }, '/ws', []],
      [{ rootfs: 'r', cmd: '/app/x', env: ['NOEQUALS'], output: 'a.eif' }, '/ws', ['NOEQUALS']],
      [{ rootfs: 'r', cmd: '/app/x', env: 'A=1', output: 'a.eif' }, '/ws', []],
      [{ ociLayout: 'x', cmd: '/app/x', output: 'a.eif' }, '/ws', []],
      [{ ociLayout: 'x' }, '/ws', []],
      [{ ociLayout: 'x', output: 'a.eif', privateKey: 'k.pem' }, '/ws', []],
      [{ ociLayout: 'x', output: 'a.eif', arch: 'arm64' }, '/ws', ['arm64']],
      [{ ociLayout: 'x', output: 'rel.eif' }, undefined, ['rel.eif']],
      [{ ociLayout: '${workspaceFolder}/x', output: '/o.eif' }, undefined, []],
    ];
    // Names of the request's fields and values (`"ociLayout"`, `"x86_64"`, KEY=VALUE) are data too.
    const fields = ['ociLayout', 'imageArchive', 'dockerUri', 'rootfs', 'cmd', 'env', 'output', 'signingCertificate'];
    const names = [...fields, 'privateKey', 'arch', 'x86_64', 'aarch64', 'KEY', 'VALUE', 'workspaceFolder', 'eif'];
    for (const [request, folder, data] of cases) {
      let message = '';
      try {
        normalizeRequest(request as never, folder, {});
      } catch (e) {
        message = e instanceof Error ? e.message : String(e);
      }
      assert.notEqual(message, '', `${JSON.stringify(request)} is refused`);
      assert.deepEqual(unmarkedWords(message, [...data, ...names]), [], message);
    }
    assert.throws(
      () => substitute('${workspaceFolder}', undefined, {}),
      (e: Error) => unmarkedWords(e.message, ['workspaceFolder']).length === 0,
    );
  });

  it('words the blobs step: items, and what is wrong with the default folder', () => {
    const dir = '/usr/share/nitro_enclaves/blobs';
    const status = (exists: boolean, x86: string[], arm: string[]): BlobsFolderStatus => ({
      dir,
      exists,
      arches: { x86_64: { dir: `${dir}/x86_64`, missing: x86 }, aarch64: { dir: `${dir}/aarch64`, missing: arm } },
    });
    const data = [`${dir}/`, 'x86_64', 'aarch64', 'bzImage', 'Image', 'cmdline', 'init', 'nsm.ko'];
    for (const s of [status(true, [], []), status(true, [], ['Image']), status(false, ['init'], ['init'])]) {
      const p = blobsPrompt(s);
      for (const text of [p.placeHolder, ...p.items.flatMap((i) => [i.label, i.description])])
        assert.deepEqual(unmarkedWords(text.replace(/\$\([\w-]+\)/g, ''), data), [], text);
    }
  });

  /**
   * The Enclave Image Viewer's literals that are markup or data, not words: classes, states, icon
   * names, message types, element ids and nitro-cli's EIF header field names.
   */
  const VIEWER_DATA = new Set([
    "'.title'",
    "'bad'",
    "'certificate-expiry'",
    "'copy'",
    "'default_cpus'",
    "'default_mem'",
    "'eif_crc32'",
    "'error'",
    "'fail'",
    "'json'",
    "'key'",
    "'kmsPolicy'",
    "'loading'",
    "'model'",
    "'muted'",
    "'num_sections'",
    "'offset'",
    "'ok'",
    "'pass'",
    "'play'",
    "'refresh'",
    "'run'",
    "'shield'",
    "'sign'",
    "'size'",
    "'warn'",
  ]);

  it('leaves no literal of the Enclave Image Viewer’s page that holds a word outside t(), but its data', () => {
    const files = ['webview/eifViewer/view.ts', 'webview/eifViewer/main.ts'];
    const found = files
      .flatMap((f) => pageLiterals(f, readFileSync(path.join(ROOT, 'src', f), 'utf8'), { everyWord: true }))
      .filter((literal) => !VIEWER_DATA.has(literal.slice(literal.indexOf(' ') + 1)));
    assert.deepEqual(found, []);
  });

  it('finds in a page every literal with a word, once asked to', () => {
    const source = "badge('signed', 'ok'); x.title = `${n} bytes`; h('p', null, t('Fine'), `EIF v${v}`);";
    assert.deepEqual(pageLiterals('p.ts', source, { everyWord: true }), [
      "p.ts:1 'signed'",
      "p.ts:1 'ok'",
      'p.ts:1 `${n} bytes`',
      'p.ts:1 `EIF v${v}`',
    ]);
    assert.deepEqual(pageLiterals('p.ts', source), []);
  });
});
