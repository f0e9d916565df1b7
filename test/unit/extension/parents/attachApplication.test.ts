import * as assert from 'node:assert/strict';
import {
  appMemoryKey,
  applicationRequest,
  checkApplicationLine,
} from '../../../../src/extension/parents/attachApplication';

describe('(unit) extension: Run Enclave’s Attach application step', () => {
  it('says what a command line will run as it is typed', () => {
    assert.deepEqual(checkApplicationLine('node app.js --port 5000'), {
      info: 'Runs node with 3 arguments: app.js --port 5000',
    });
    assert.deepEqual(checkApplicationLine('./server'), { info: 'Runs ./server without arguments.' });
    assert.deepEqual(checkApplicationLine('node "my app.js"'), { info: 'Runs node with 1 argument: "my app.js"' });
    assert.deepEqual(checkApplicationLine('echo ""'), { info: 'Runs echo with 1 argument: ""' });
  });

  it('accepts an empty line (no application) and refuses an unclosed quote or an empty command', () => {
    assert.equal(checkApplicationLine(''), undefined);
    assert.equal(checkApplicationLine('   '), undefined);
    assert.deepEqual(checkApplicationLine('node "app.js'), { error: 'The double quote at character 6 is not closed.' });
    assert.deepEqual(checkApplicationLine("'' x"), { error: 'The command (the first word) is empty.' });
  });

  it("maps a command line to the request's app, started in the given folder", () => {
    assert.deepEqual(applicationRequest('node sample-app/nsm-client.mjs', '/ws/demo'), {
      command: 'node',
      args: ['sample-app/nsm-client.mjs'],
      cwd: '/ws/demo',
    });
    assert.deepEqual(applicationRequest(" python3 -c 'print(1)' ", '/w'), {
      command: 'python3',
      args: ['-c', 'print(1)'],
      cwd: '/w',
    });
    assert.equal(applicationRequest('', '/w'), undefined);
    assert.throws(() => applicationRequest('node "x', '/w'), /cannot be used: The double quote at character 6/);
  });

  it('remembers the application per image path', () => {
    assert.equal(appMemoryKey('/ws/images/a.eif'), 'nitroEnclaves.runEnclave.app:/ws/images/a.eif');
    assert.notEqual(appMemoryKey('/ws/images/a.eif'), appMemoryKey('/ws/images/b.eif'));
  });
});
