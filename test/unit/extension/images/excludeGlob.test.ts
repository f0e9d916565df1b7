// The exclude glob of image searches: the images' own patterns and files.exclude, joined so that
// VS Code's glob (braces, but not braces within braces) reads every one of them.
import * as assert from 'node:assert/strict';
import { excludeGlob, expandBraces } from '../../../../src/extension/images/excludeGlob';

describe('(unit) image search excludes', () => {
  it('expandBraces: alternatives, nested and in sequence; plain and unmatched patterns stay', () => {
    assert.deepEqual(expandBraces('**/node_modules/**'), ['**/node_modules/**']);
    assert.deepEqual(expandBraces('**/{vendor,third_party}/**'), ['**/vendor/**', '**/third_party/**']);
    assert.deepEqual(expandBraces('{a,b{c,d}}/x'), ['a/x', 'bc/x', 'bd/x']);
    assert.deepEqual(expandBraces('{a,b}{1,2}'), ['a1', 'a2', 'b1', 'b2']);
    assert.deepEqual(expandBraces('a{b'), ['a{b']);
    assert.deepEqual(expandBraces('{}'), ['']);
  });

  it('expandBraces: a pattern that multiplies stops at a bounded number of alternatives', () => {
    const many = expandBraces('{a,b,c,d}'.repeat(20));
    assert.ok(many.length <= 256, String(many.length));
  });

  it('excludeGlob: joins the images patterns with the files.exclude patterns that are on', () => {
    assert.equal(excludeGlob([], undefined), undefined);
    assert.equal(excludeGlob(['**/node_modules/**'], {}), '**/node_modules/**');
    assert.equal(
      excludeGlob(['**/node_modules/**', '**/{vendor,out}/**'], {
        '**/.git': true,
        '**/off': false,
        '**/*.js': { when: '$(basename).ts' },
      }),
      '{**/node_modules/**,**/vendor/**,**/out/**,**/.git}',
    );
  });

  it('excludeGlob: no brace within the outer pair, no duplicates, no empty or non-text patterns', () => {
    const glob = excludeGlob(['**/{a,b}/**', '**/a/**', '', 7, null], { '**/{a,c}/**': true }) ?? '';
    assert.equal(glob, '{**/a/**,**/b/**,**/c/**}');
    assert.doesNotMatch(glob.slice(1, -1), /[{}]/);
  });
});
