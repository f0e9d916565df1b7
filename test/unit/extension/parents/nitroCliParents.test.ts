import * as assert from 'node:assert/strict';
import type { EnclaveBackend, ParentInfo } from '../../../../src/engine';
import { Emitter } from '../../../../src/engine/platform/lifecycle';
import {
  BackendRegistry,
  DEFAULT_SSH_OPTIONS,
  type NitroCliOptions,
  type NitroCliTarget,
} from '../../../../src/engine/node';
import { NitroCliParents } from '../../../../src/extension/parents/nitroCliParents';

/** A stand-in for the engine's nitro-cli backend: one parent, named after its target. */
class TargetBackend implements EnclaveBackend {
  readonly kind = 'nitro-cli' as const;
  readonly label: string;
  disposed = false;
  private readonly changed = new Emitter<{ readonly parentId?: string }>();
  readonly onDidChange = this.changed.event;
  constructor(readonly target: NitroCliTarget) {
    this.label = target.kind === 'local' ? 'nitro-cli (this machine)' : `nitro-cli on ${target.host}`;
  }
  async listParents(): Promise<readonly ParentInfo[]> {
    return [];
  }
  runEnclave = () => Promise.reject(new Error('not here'));
  describeEnclaves = () => Promise.resolve([]);
  terminateEnclave = () => Promise.reject(new Error('not here'));
  openConsole = () => Promise.reject(new Error('not here'));
  nsm = () => Promise.reject(new Error('not here'));
  dispose(): void {
    this.disposed = true;
    this.changed.dispose();
  }
}

function logRecorder() {
  const lines: string[] = [];
  return {
    lines,
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
}

const local: NitroCliTarget = { kind: 'local', nitroCliPath: 'nitro-cli' };
const hostA: NitroCliTarget = { kind: 'ssh', host: 'ec2-user@a', nitroCliPath: 'nitro-cli' };
const hostB: NitroCliTarget = { kind: 'ssh', host: 'b', nitroCliPath: 'nitro-cli', name: 'B' };
const opts = (...targets: NitroCliTarget[]): NitroCliOptions => ({ targets, ssh: DEFAULT_SSH_OPTIONS });

describe('(unit) extension: the nitro-cli parents of the settings in the backend registry', () => {
  let registry: BackendRegistry;
  let made: TargetBackend[];
  let calls: NitroCliOptions[];
  const factory = (options: NitroCliOptions): EnclaveBackend[] => {
    calls.push(options);
    const backends = options.targets.map((t) => new TargetBackend(t));
    made.push(...backends);
    return backends;
  };

  beforeEach(() => {
    registry = new BackendRegistry();
    made = [];
    calls = [];
  });
  afterEach(() => registry.dispose());

  it('registers one backend per target, each made from its own target, and knows which is which', () => {
    const log = logRecorder();
    const parents = new NitroCliParents(registry, factory, log);
    parents.apply(opts(local, hostA, hostB));
    assert.deepEqual(calls, [opts(local), opts(hostA), opts(hostB)]);
    assert.deepEqual(registry.backends, made);
    assert.deepEqual(parents.backends, made);
    for (const b of made) assert.equal(parents.targetOf(b), b.target);
    assert.equal(parents.targetOf(new TargetBackend(local)), undefined);
    assert.match(
      log.lines[0] ?? '',
      /^info Real parent instances \(nitro-cli\): this machine \(nitro-cli\); ec2-user@a over SSH/,
    );
    assert.ok(
      log.lines.some((l) => /^info nitro-cli on b: registered, "B": b over SSH/.test(l)),
      log.lines.join('\n'),
    );
  });

  it('replaces the backends when the options change, disposing the old ones, and not when they do not', () => {
    const parents = new NitroCliParents(registry, factory, logRecorder());
    parents.apply(opts(local, hostA));
    const first = [...made];
    parents.apply(opts(local, hostA));
    assert.equal(calls.length, 2, 'the same options make nothing again');
    parents.apply(opts(hostB));
    assert.ok(
      first.every((b) => b.disposed),
      'the previous backends are disposed',
    );
    assert.deepEqual(
      registry.backends.map((b) => b.label),
      ['nitro-cli on b'],
    );
    parents.apply(opts());
    assert.deepEqual(registry.backends, []);
    assert.ok(made.every((b) => b.disposed));
  });

  it('logs a target whose backend cannot be made and registers the others', () => {
    const log = logRecorder();
    const parents = new NitroCliParents(
      registry,
      (o) => {
        if (o.targets[0]?.kind === 'local') throw new Error('no nitro-cli here');
        return factory(o);
      },
      log,
    );
    parents.apply(opts(local, hostA));
    assert.deepEqual(
      registry.backends.map((b) => b.label),
      ['nitro-cli on ec2-user@a'],
    );
    assert.ok(
      log.lines.includes('error this machine (nitro-cli): the nitro-cli backend could not be made: no nitro-cli here'),
    );
  });

  it('without a factory only logs the parents, and takes a factory later', () => {
    const log = logRecorder();
    const parents = new NitroCliParents(registry, undefined, log);
    parents.apply(opts(hostA));
    assert.equal(registry.backends.length, 0);
    assert.match(log.lines[0] ?? '', /ec2-user@a over SSH \(nitro-cli\); this build has no nitro-cli backend/);
    parents.useFactory(factory);
    assert.deepEqual(
      registry.backends.map((b) => b.label),
      ['nitro-cli on ec2-user@a'],
    );
    parents.dispose();
    assert.deepEqual(registry.backends, []);
    assert.ok(made.every((b) => b.disposed));
  });

  it("goes back to the factory it was made with when a test's factory is taken away", () => {
    const testMade: TargetBackend[] = [];
    const testFactory = (options: NitroCliOptions): EnclaveBackend[] => {
      const backends = options.targets.map((t) => new TargetBackend({ ...t, name: 'from the test factory' }));
      testMade.push(...backends);
      return backends;
    };
    const parents = new NitroCliParents(registry, factory, logRecorder());
    parents.apply(opts(hostA));
    parents.useFactory(testFactory);
    assert.equal(testMade.length, 1);
    assert.equal(registry.backends[0], testMade[0]);
    parents.useFactory(undefined);
    assert.ok(testMade[0]!.disposed, "the test factory's backend is removed");
    assert.equal(registry.backends.length, 1, 'the own factory makes the backend again');
    assert.equal(registry.backends[0], made[made.length - 1]);
    assert.equal(registry.backends[0]!.label, 'nitro-cli on ec2-user@a');
    parents.dispose();
  });

  it('leaves other backends of the registry alone', () => {
    const other = new TargetBackend(hostB);
    registry.register(other, { owned: false });
    const parents = new NitroCliParents(registry, factory, logRecorder());
    parents.apply(opts(hostA));
    parents.apply(opts());
    parents.dispose();
    assert.deepEqual(registry.backends, [other]);
    assert.equal(other.disposed, false);
  });
});
