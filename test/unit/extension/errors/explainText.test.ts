import * as assert from 'node:assert/strict';
import { BackendError, explainError } from '../../../../src/engine';
import {
  codeOfExplanationPath,
  explanationLines,
  explanationMarkdown,
  explanationOf,
  explanationPath,
  failureNotice,
} from '../../../../src/extension/errors/explainText';

describe('(unit) extension: failures with a nitro-cli code', () => {
  const e26 = explainError('E26');
  const backend = new BackendError(26, 'Insufficient memory requested. User provided `memory` is 64 MB');

  it('finds the code of a BackendError, directly or as the cause of a command failure', () => {
    assert.equal(explanationOf(backend)?.code, 'E26');
    const wrapped = new Error('hello.eif did not start: [E26] Insufficient memory requested.', { cause: backend });
    assert.equal(explanationOf(wrapped)?.code, 'E26');
    assert.equal(explanationOf(new Error('outer', { cause: wrapped }))?.code, 'E26');
    assert.equal(explanationOf(new Error('no code')), undefined);
    assert.equal(explanationOf('a string'), undefined);
    assert.equal(explanationOf(new BackendError(99, 'unknown')), undefined);
    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    assert.equal(explanationOf(loop), undefined);
  });

  it("finds the code of another engine copy's BackendError (a backend from another bundle)", () => {
    class OtherBundlesBackendError extends Error {
      constructor(
        readonly code: number,
        message: string,
      ) {
        super(message);
        this.name = 'BackendError';
      }
    }
    const foreign = new OtherBundlesBackendError(19, 'Device not found.');
    assert.equal(explanationOf(foreign)?.code, 'E19');
    assert.equal(explanationOf(new Error('x', { cause: foreign }))?.code, 'E19');
    const lookAlike = Object.assign(new Error('no code'), { name: 'BackendError', code: 'E19' });
    assert.equal(explanationOf(lookAlike), undefined, 'the code must be a number, as BackendError has');
  });

  it('shows the code, its title and its meaning in the notification', () => {
    assert.ok(e26);
    const wrapped = new Error('hello.eif did not start: [E26] Insufficient memory requested.', { cause: backend });
    assert.equal(
      failureNotice(wrapped),
      `Nitro Enclaves: hello.eif did not start: [E26] Insufficient memory requested. (E26, Insufficient memory ` +
        `requested: ${e26.meaning})`,
    );
    assert.equal(failureNotice(new Error('plain failure')), 'Nitro Enclaves: plain failure');
  });

  it('writes the Show Fix document as Markdown with the meaning and the fix', () => {
    assert.ok(e26);
    const md = explanationMarkdown(e26);
    assert.match(md, /^# E26: Insufficient memory requested\n/);
    assert.ok(md.includes(`## What it means\n\n${e26.meaning}\n`));
    assert.ok(md.includes(`## How to fix it\n\n${e26.fix}\n`));
    assert.ok(md.includes('nitro-dev explain E26'));
  });

  it('names the document by its code, and reads the code back from the path only', () => {
    assert.equal(explanationPath('E26'), '/E26.md');
    assert.equal(codeOfExplanationPath('/E26.md'), 'E26');
    assert.equal(codeOfExplanationPath('/E26.md.js'), undefined);
    assert.equal(codeOfExplanationPath('/../E26.md'), undefined);
  });

  it('writes the code, meaning and fix into a console terminal, and nothing for other failures', () => {
    const e44 = explainError('E44');
    assert.ok(e44);
    assert.equal(
      explanationLines(new BackendError(44, 'Console connection failure.')),
      `E44 (Console connection failure): ${e44.meaning}\nFix: ${e44.fix}\n`,
    );
    assert.equal(explanationLines(new Error('gone')), '');
  });
});
