import * as assert from 'node:assert/strict';
import {
  asLastSettings,
  describeSettings,
  lastSettingsKey,
  requestOf,
  type LastRunSettings,
} from '../../../../src/extension/parents/lastSettings';

const settings: LastRunSettings = {
  memoryMiB: 512,
  cpuCount: 2,
  debugMode: true,
  enclaveName: 'app',
  enclaveCid: 0,
  app: 'node app.js --port 5000',
};

describe('(unit) extension: Run Enclave’s last settings, remembered per image', () => {
  it('keys them by the image path', () => {
    assert.notEqual(lastSettingsKey('/a/app.eif'), lastSettingsKey('/b/app.eif'));
    assert.match(lastSettingsKey('/a/app.eif'), /\/a\/app\.eif$/);
  });

  it('reads back only whole settings (what workspaceState holds may be anything)', () => {
    assert.deepEqual(asLastSettings(JSON.parse(JSON.stringify(settings))), settings);
    assert.equal(asLastSettings(undefined), undefined);
    assert.equal(asLastSettings('node app.js'), undefined, 'the application line remembered alone is not settings');
    assert.equal(asLastSettings({ ...settings, memoryMiB: '512' }), undefined);
    assert.equal(asLastSettings({ ...settings, cpuCount: -1 }), undefined);
    assert.equal(asLastSettings({ ...settings, debugMode: 'true' }), undefined);
  });

  it('shows them in one line, the application only where one can run', () => {
    assert.equal(
      describeSettings(settings, true),
      'debug mode · 512 MiB · 2 CPUs · name app · next free CID · application: node app.js --port 5000',
    );
    assert.equal(
      describeSettings({ ...settings, debugMode: false, cpuCount: 1, enclaveCid: 21, app: '' }, true),
      'production · 512 MiB · 1 CPU · name app · CID 21 · no application',
    );
    assert.equal(describeSettings(settings, false), 'debug mode · 512 MiB · 2 CPUs · name app · next free CID');
  });

  it('makes the run request, with the application only when it can be attached', () => {
    assert.deepEqual(requestOf(settings, '/w/app.eif', '/w'), {
      eifPath: '/w/app.eif',
      memoryMiB: 512,
      cpuCount: 2,
      debugMode: true,
      enclaveName: 'app',
      app: { command: 'node', args: ['app.js', '--port', '5000'], cwd: '/w' },
    });
    assert.deepEqual(requestOf({ ...settings, enclaveCid: 30 }, '/w/app.eif', undefined), {
      eifPath: '/w/app.eif',
      memoryMiB: 512,
      cpuCount: 2,
      debugMode: true,
      enclaveName: 'app',
      enclaveCid: 30,
    });
  });
});
