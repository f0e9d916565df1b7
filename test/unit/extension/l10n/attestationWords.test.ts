// The words the attestation, KMS and error modules write themselves go through l10n.t: with a
// stand-in l10n.t that writes every message of theirs in full-width letters, what they produce holds
// no plain ASCII word but the engine's own texts (English by design) and data (names, times, codes).
// And the Attestation Document Viewer's page decides nothing from words: its muted PCRs and its
// certificate nouns come from flags and host-worded nouns, so they hold in any language.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ATTESTATION_KIND_LABELS,
  BackendError,
  LinkCache,
  explainError,
  parsePolicyJson,
  type VerifyReport,
} from '../../../../src/engine';
import { nodeAttestationCrypto } from '../../../../src/engine/node';
import { DevelopmentCa, createAttestationDocument } from '../../../../src/engine/node/devAttestation';
import { checkHexField, checkTextField } from '../../../../src/extension/attestation/attestFields';
import {
  toAttestationViewModel,
  unreadableReason,
  verifyForView,
  type ViewContext,
} from '../../../../src/extension/attestation/attestationViewModel';
import {
  explanationLines,
  explanationMarkdown,
  failureNotice,
  unknownExplanation,
} from '../../../../src/extension/errors/explainText';
import { dryRunOf } from '../../../../src/extension/kms/dryRun';
import { formatMessage, l10n, useVscodeL10n, type L10nT } from '../../../../src/extension/l10n';
import type { AttestationViewModel, TimeChoice } from '../../../../src/shared/attestationViewer';
import { fingerprintCopyWhat, pcrMeaningClass, verdictWord } from '../../../../src/webview/attestationViewer/format';
import { repoPath } from '../../repo';

/** A message in full-width letters (`Ｒｏｏｔ`), its `{n}` kept: the stand-in translation. */
const fullWidth = (message: string): string =>
  message.replace(/\{\d+\}|[A-Za-z]/g, (c) => (c.length > 1 ? c : String.fromCodePoint(c.charCodeAt(0) + 0xfee0)));
const pseudoT: L10nT = (message, ...args) => formatMessage(fullWidth(message), args);

/** Runs `f` with the stand-in l10n.t, restoring the English one after. */
function translated<T>(f: () => T): T {
  const english = l10n.t;
  useVscodeL10n(pseudoT);
  try {
    return f();
  } finally {
    useVscodeL10n(english);
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The plain ASCII words left in `text` once the data in it is taken out (each of `data`, whatever the
 * case of its first letter), with `PCR<n>`, `UTC`, hex and code spans: the words that skipped l10n.t.
 */
function untranslated(text: string, data: readonly string[]): string[] {
  let rest = text;
  for (const d of [...data].filter((x) => x.length > 1).sort((a, b) => b.length - a.length))
    rest = rest.replace(new RegExp(escape(d), 'gi'), ' ');
  rest = rest.replace(/`[^`]*`|\bPCR\d+\b|\bUTC\b|\b[0-9a-fA-F:]{8,}\b|https?:\/\/\S+/g, ' ');
  return rest.match(/[A-Za-z]{2,}/g) ?? [];
}

const FIXTURES = repoPath('test', 'fixtures', 'attestation');
const bytesOf = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const cache = new LinkCache();

/** The data a model may carry inside its sentences: the engine's texts and the document's names and times. */
function dataOf(report: VerifyReport, model: AttestationViewModel, extra: readonly string[] = []): string[] {
  return [
    ...report.checks.flatMap((c) => [c.reason, c.title, c.code]),
    ...report.hints.map((h) => h.code),
    report.timeNote ?? '',
    report.summary,
    report.trustedRoot?.label ?? '',
    report.unsigned?.markers ?? '',
    ...Object.values(ATTESTATION_KIND_LABELS),
    model.time.at.utc,
    ...model.chain.flatMap((c) => [c.commonName, c.subject, c.notBefore.utc, c.notAfter.utc]),
    ...extra,
  ];
}

/** The words of a model that the extension writes (not the engine's check titles and reasons, not data). */
function wordsOf(model: AttestationViewModel): string[] {
  const v = model.verdict;
  return [
    v.headline,
    ...v.reasons,
    ...v.notes,
    ...v.hints,
    ...model.chain.flatMap((c) => [c.roleLabel, c.roleNoun]),
    ...(model.comparison && !model.comparison.ok ? [model.comparison.error] : []),
    ...(model.document?.timestamp.outOfRange ? [model.document.timestamp.utc] : []),
  ];
}

function modelOf(
  input: Uint8Array,
  time: TimeChoice,
  extra: { expectedPcrs?: ReadonlyMap<number, string>; roots?: Parameters<typeof verifyForView>[1]['roots'] } = {},
  context: Partial<ViewContext> = {},
): { model: AttestationViewModel; report: VerifyReport } {
  const run = verifyForView(input, { time, ...extra }, nodeAttestationCrypto, cache);
  const model = toAttestationViewModel(run.report, {
    source: { kind: 'bytes', label: 'x', inputSize: input.length },
    time,
    ...(run.atDocumentTime ? { atDocumentTime: run.atDocumentTime } : {}),
    ...context,
  });
  return { model, report: run.report };
}

describe('(unit) localization: the attestation viewer model words everything through l10n.t', function () {
  this.timeout(120_000);
  let stateDir: string;
  let ca: DevelopmentCa;
  let devDoc: Uint8Array;
  const T0 = Date.parse('2026-03-01T12:00:00.123Z');

  before(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'nitro-l10n-att-'));
    ca = await DevelopmentCa.load(stateDir, { now: () => T0 });
    devDoc = await createAttestationDocument({
      ca,
      enclaveId: 'i-0123456789abcdef0-enc0123456789abcdef',
      pcrs: new Map(Array.from({ length: 16 }, (_, i) => [i, new Uint8Array(48).fill(i + 1)])),
      timestamp: T0,
    });
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  /** Each case: a model built with the stand-in l10n.t, its words, and the data its sentences may hold. */
  const cases = (): Array<{ name: string; model: AttestationViewModel; data: string[] }> => {
    const prod = bytesOf('evervault-2022-10-13-prod.cbor');
    const wrong = new Map([
      [0, 'ab'.repeat(48)],
      [1, 'cd'.repeat(48)],
      [2, 'ef'.repeat(48)],
    ]);
    const built = [
      { name: 'valid at document time', ...modelOf(prod, { mode: 'document' }) },
      { name: 'expired now (its other certificates too)', ...modelOf(prod, { mode: 'now' }) },
      {
        name: 'not yet valid',
        ...modelOf(prod, { mode: 'custom', at: '2000-01-01T00:00:00.000Z' }),
      },
      {
        name: 'PCRs that do not match an image',
        ...modelOf(prod, { mode: 'document' }, { expectedPcrs: wrong }, { comparison: { name: 'a.eif', detail: 'd' } }),
      },
      {
        name: 'one PCR that does not match',
        ...modelOf(prod, { mode: 'document' }, { expectedPcrs: new Map([[0, 'ab'.repeat(48)]]) }),
      },
      { name: 'debug mode', ...modelOf(bytesOf('evervault-2022-10-12-debug.cbor'), { mode: 'document' }) },
      {
        name: 'a NitroTPM document compared with an image',
        ...modelOf(
          bytesOf('nitrotpm-2026-06-18-use2.cbor'),
          { mode: 'document' },
          { expectedPcrs: wrong },
          { comparison: { name: 'a.eif', detail: 'd' } },
        ),
      },
      { name: 'an untrusted (development) root', ...modelOf(devDoc, { mode: 'document' }) },
      {
        name: 'a trusted development root',
        ...modelOf(
          devDoc,
          { mode: 'now' },
          { roots: [{ der: ca.rootDer, label: 'the development root', kind: 'development' }] },
        ),
      },
      { name: 'unsigned (QEMU)', ...modelOf(bytesOf('qemu/qemu-attestation.cbor'), { mode: 'document' }) },
    ];
    return built.map(({ name, model, report }) => ({ name, model, data: dataOf(report, model, ['a.eif']) }));
  };

  it('leaves no plain English word of its own in the verdict, reasons, notes, hints and certificate roles', () => {
    const all = translated(cases);
    const left = all.flatMap(({ name, model, data }) =>
      wordsOf(model).flatMap((text) => {
        const words = untranslated(text, data);
        return words.length > 0 ? [`${name}: "${text}" leaves ${words.join(' ')}`] : [];
      }),
    );
    assert.deepEqual(left, []);
    // The cases reach the reasons the extension words itself.
    const reasons = all.flatMap(({ model }) => [model.verdict.headline, ...model.verdict.reasons]).join('\n');
    for (const own of [
      'its signing certificate expired at',
      'is not valid before',
      'more certificates of the chain are not valid',
      'its PCRs do not match',
      'differ',
      'it is not signed through a trusted root',
    ])
      assert.ok(reasons.includes(fullWidth(own)), own);
  });

  it('says in English, without the stand-in, what it said before', () => {
    const now = modelOf(bytesOf('evervault-2022-10-13-prod.cbor'), { mode: 'now' }).model;
    assert.match(
      now.verdict.reasons[0] ?? '',
      /^Its signing certificate expired at .* UTC \(3 more certificates of the chain are not valid at that time either\)$/,
    );
    assert.deepEqual(
      now.chain.map((c) => [c.roleLabel, c.roleNoun]),
      [
        ['Root', 'root certificate'],
        ['Regional', 'regional certificate'],
        ['Zonal', 'zonal certificate'],
        ['Instance', 'instance certificate'],
        ['Signing certificate', 'signing certificate'],
      ],
    );
    const two = modelOf(
      bytesOf('evervault-2022-10-13-prod.cbor'),
      { mode: 'document' },
      {
        expectedPcrs: new Map([
          [0, 'ab'.repeat(48)],
          [1, 'cd'.repeat(48)],
          [2, 'ef'.repeat(48)],
        ]),
      },
      { comparison: { name: 'a.eif', detail: 'd' } },
    ).model;
    assert.match(
      two.verdict.headline,
      /^Invalid at document time: its PCRs do not match a\.eif \(PCR0, PCR1 and PCR2 differ\)$/,
    );
  });

  it('words the reason of an input that is no document', () => {
    const report = translated(
      () => verifyForView(new Uint8Array(0), { time: { mode: 'now' } }, nodeAttestationCrypto).report,
    );
    const reason = translated(() => unreadableReason({ ...report, checks: [] }));
    assert.deepEqual(untranslated(reason ?? '', []), []);
  });

  it('marks the PCRs without a meaning of their own with a flag, whatever the words', () => {
    const { model } = modelOf(bytesOf('evervault-2022-10-13-prod.cbor'), { mode: 'document' });
    const reserved = model.pcrs.filter((p) => p.reserved).map((p) => p.index);
    assert.deepEqual(reserved, [5, 6, 7, 9, 10, 11, 12, 13, 14, 15]);
    const tpm = modelOf(bytesOf('nitrotpm-2026-06-18-use2.cbor'), { mode: 'document' }).model;
    for (const p of tpm.pcrs) assert.equal(p.reserved, p.meaning === 'Reserved', p.name);
  });
});

describe('(unit) localization: the attestation, KMS and error texts go through l10n.t', () => {
  it('the request fields of Get Attestation Document', () => {
    const texts = translated(() => [
      checkHexField('abc', 'nonce'),
      checkHexField('abc', 'user data'),
      checkHexField('ab'.repeat(2000), 'nonce'),
      checkHexField('ab'.repeat(2000), 'user data'),
      checkTextField('x'.repeat(2000)),
    ]);
    assert.equal(texts.filter((t) => t === undefined).length, 0);
    assert.deepEqual(
      texts.flatMap((t) => untranslated(t ?? '', [])),
      [],
    );
    assert.equal(checkHexField('abc', 'user data'), 'Write the user data as hex: an even number of 0-9, a-f.');
  });

  it('a failure with a nitro-cli code, and its Show Fix document', () => {
    const e26 = explainError('E26');
    assert.ok(e26);
    const backend = new BackendError(26, 'Insufficient memory requested.');
    const data = [e26.code, e26.title, e26.meaning, e26.fix, 'Nitro Enclaves', 'nitro-cli', 'boom'];
    const texts = translated(() => [
      failureNotice(new Error('boom', { cause: backend })),
      failureNotice(new Error('boom')),
      explanationLines(backend),
      explanationMarkdown(e26),
      unknownExplanation(),
    ]);
    assert.deepEqual(
      texts.flatMap((t) => untranslated(t, data)),
      [],
    );
    assert.match(unknownExplanation(), /^# Unknown error code\n\nThis document names no nitro-cli error code/);
  });

  it('the dry run’s own errors (its answer is the engine’s, as the CLI prints it)', () => {
    const errors = translated(() =>
      ['', '{ nope'].map((policy) => {
        try {
          dryRunOf({ policy, policyLabel: 'p.json', operation: 'Decrypt' }, undefined);
          return 'no error';
        } catch (e) {
          return (e as Error).message;
        }
      }),
    );
    let engine = '';
    try {
      parsePolicyJson('{ nope');
    } catch (e) {
      engine = (e as Error).message;
    }
    assert.ok(engine !== '' && errors[1]?.startsWith('p.json:1:') && errors[1].endsWith(engine), errors[1]);
    assert.deepEqual(
      errors.flatMap((t) => untranslated(t, ['p.json', engine])),
      [],
    );
  });
});

describe('(unit) localization: the attestation viewer page decides nothing from words', () => {
  it('mutes a PCR by its flag, not by its meaning’s English text', () => {
    assert.equal(pcrMeaningClass({ reserved: true }), 'pcr-meaning muted');
    assert.equal(pcrMeaningClass({ reserved: false }), 'pcr-meaning');
    const view = readFileSync(repoPath('src', 'webview', 'attestationViewer', 'view.ts'), 'utf8');
    assert.match(view, /\{ class: pcrMeaningClass\(p\) \}, p\.meaning/);
    assert.doesNotMatch(view, /\.meaning ===|=== '(Reserved|Application-defined)'/);
  });

  it('names a certificate with the host’s noun, whatever the language of its label', () => {
    const cert = { role: 'root' as const, roleLabel: 'Racine', roleNoun: 'certificat racine' };
    assert.equal(fingerprintCopyWhat(cert), 'SHA-256 fingerprint of the certificat racine');
    const leaf = { role: 'leaf' as const, roleLabel: 'Signaturzertifikat', roleNoun: 'Signaturzertifikat' };
    assert.equal(fingerprintCopyWhat(leaf), 'SHA-256 fingerprint of the Signaturzertifikat');
  });

  it('words the verdict chip from the page’s table, not the verdict’s code', () => {
    assert.deepEqual((['valid', 'invalid', 'unsigned'] as const).map(verdictWord), ['valid', 'invalid', 'unsigned']);
    const main = readFileSync(repoPath('src', 'webview', 'attestationViewer', 'main.ts'), 'utf8');
    assert.doesNotMatch(main, /\n\s*model\.verdict\.verdict,\n/, 'the chip shows verdictWord(...), not the code');
  });
});
