import * as assert from 'node:assert/strict';
import { applicationOf, commandLineProblem, parseCommandLine } from '../../../../src/engine';
import { splitCommandLine } from '../../../../src/cli/enclaveCommands';

describe('(unit) an application command line', () => {
  const table: readonly [string, readonly string[]][] = [
    ['node app.js --port 5000', ['node', 'app.js', '--port', '5000']],
    ['  node\tapp.js  ', ['node', 'app.js']],
    ['node "my app.js"', ['node', 'my app.js']],
    ["node 'my app.js' --name \"it's\"", ['node', 'my app.js', '--name', "it's"]],
    ['node --name="a b" x', ['node', '--name=a b', 'x']],
    ['echo "" end', ['echo', '', 'end']],
    ["echo ''", ['echo', '']],
    ['echo a\\ b', ['echo', 'a\\', 'b']],
    ['echo $HOME | cat > out', ['echo', '$HOME', '|', 'cat', '>', 'out']],
    ['', []],
    ['   ', []],
    ['ünï "cödé ☃"', ['ünï', 'cödé ☃']],
  ];

  for (const [line, words] of table)
    it(`splits ${JSON.stringify(line)} as nitro-dev run-enclave --app does`, () => {
      assert.deepEqual(parseCommandLine(line), { ok: true, words });
      assert.deepEqual(splitCommandLine(line), words, 'the CLI splits it the same way');
    });

  it('refuses an unclosed quote, saying which and where', () => {
    assert.deepEqual(parseCommandLine('node "app.js'), {
      ok: false,
      reason: 'The double quote at character 6 is not closed.',
    });
    assert.equal(commandLineProblem("node app.js 'x"), 'The single quote at character 13 is not closed.');
    assert.throws(() => applicationOf('node "'), /double quote at character 6 is not closed/);
  });

  it('makes the first word the command and the rest its arguments; empty is no application', () => {
    assert.deepEqual(applicationOf('node app.js --port 5000'), { command: 'node', args: ['app.js', '--port', '5000'] });
    assert.deepEqual(applicationOf('./run'), { command: './run', args: [] });
    assert.equal(applicationOf(''), undefined);
    assert.equal(applicationOf(' \t '), undefined);
  });

  it('tells an empty command, and accepts an empty line (no application)', () => {
    assert.equal(commandLineProblem('"" app.js'), 'The command (the first word) is empty.');
    assert.equal(commandLineProblem(''), undefined);
    assert.equal(commandLineProblem('node app.js'), undefined);
  });
});
