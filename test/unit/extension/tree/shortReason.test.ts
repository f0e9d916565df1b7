import * as assert from 'node:assert/strict';
import { shortReason } from '../../../../src/extension/tree/shortReason';

describe("(unit) extension: an unreachable parent's reason, short enough for its node", () => {
  it("keeps ssh's own reason of a connection failure", () => {
    assert.equal(shortReason('ssh: connect to host 10.0.0.12 port 22: Connection refused'), 'Connection refused');
  });

  it("drops the host the nitro-cli backend's message names again (the node's label names it)", () => {
    assert.equal(
      shortReason(
        'cannot reach ec2-user@parent-1: Connection refused\n' +
          'To see it yourself: ssh -o BatchMode=yes -o ConnectTimeout=5 -T -- ec2-user@parent-1 true',
      ),
      'Connection refused',
    );
    assert.equal(shortReason('cannot reach fe80::1%eth0: No route to host'), 'No route to host');
    // The runner's form: ssh's words without `ssh: `.
    assert.equal(
      shortReason('cannot reach parent-1: connect to host 127.0.0.1 port 40000: Connection refused\nTo see it...'),
      'Connection refused',
    );
    assert.equal(
      shortReason('cannot reach parent-1: Could not resolve hostname parent-1: Name or service not known'),
      'Could not resolve hostname parent-1: Name or service not known',
    );
    assert.equal(
      shortReason('cannot reach parent-1: alice@parent-1: Permission denied (publickey).'),
      'alice@parent-1: Permission denied (publickey).',
    );
  });

  it('keeps other reasons, from their first line, and shortens long ones', () => {
    assert.equal(shortReason('\n  [E19] Device not found\nmore'), '[E19] Device not found');
    assert.equal(shortReason('nitro-cli: command not found'), 'nitro-cli: command not found');
    assert.equal(shortReason(''), 'no reason given');
    const long = shortReason('x'.repeat(200));
    assert.equal(long.length, 80);
    assert.ok(long.endsWith('...'));
  });
});
