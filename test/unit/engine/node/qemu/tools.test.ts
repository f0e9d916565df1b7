import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PROBE_RESET_CODE,
  ProbeError,
  acceleratorText,
  checkNitroMachine,
  findQemuTools,
  probeBiosImage,
  probeCacheFile,
  probeKvm,
} from '../../../../../src/engine/node/qemu/tools';
import { qemuCacheLayout } from '../../../../../src/engine/node/qemu/layout';

async function exe(file: string, text = '#!/bin/sh\nexit 0\n') {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode: 0o755 });
  return file;
}

/**
 * A stand-in QEMU: `--version`, `-M help` (with the nitro-enclave machine unless NONITRO), and the
 * probe guest: under `-accel tcg` it prints TCG_OUT, under `-accel kvm` KVM_OUT, then does KVM_THEN
 * (e.g. `exit 1` or `exec sleep 1000`). Each run is counted in `runs`.
 */
function fakeQemu(
  dir: string,
  o: { tcgOut?: string; kvmOut?: string; kvmThen?: string; noNitro?: boolean; stderr?: string; kernelKvm?: string },
) {
  return `#!/bin/sh
echo run >> '${dir}/runs'
case "$*" in
  *--version*) echo "QEMU emulator version 10.0.13"; echo "Copyright (c) 2003-2025"; exit 0;;
  *"-M help"*) echo "Supported machines are:"; echo "microvm              microvm (i386)"
    ${o.noNitro ? 'true' : 'echo "nitro-enclave        AWS Nitro Enclave"'}; exit 0;;
esac
case "$*" in
  *"-kernel "*"-append console=ttyS0"*"-accel tcg"*|*"-accel tcg"*"-kernel "*"-append console=ttyS0"*)
    echo kernel >> '${dir}/guests'; printf 'Linux version 6.12'; exec sleep 1000;;
  *"-kernel "*"-accel kvm"*|*"-accel kvm"*"-kernel "*) echo kernel >> '${dir}/guests'; ${o.kernelKvm ?? 'exit 1'};;
esac
for a in "$@"; do [ -f "$a" ] && bios="$a"; done
# The probe's firmware must be 64 KiB.
[ "$(wc -c < "$bios")" -eq 65536 ] || { echo "bad bios" >&2; exit 3; }
echo firmware >> '${dir}/guests'
case "$*" in
  *"-accel tcg"*) printf '${o.tcgOut ?? 'K'}'; exec sleep 1000;;
  *"-accel kvm"*) ${o.stderr ? `echo '${o.stderr}' >&2;` : ''} printf '${o.kvmOut ?? ''}'; ${o.kvmThen ?? 'exit 1'};;
esac
exit 9
`;
}

describe('(unit) QEMU tools: finding them', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qemu-tools-test-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('takes an explicit setting first, then the environment, then the cache, then PATH', async () => {
    const cache = path.join(dir, 'cache');
    const layout = qemuCacheLayout(cache);
    const inPath = path.join(dir, 'pathbin');
    await exe(path.join(inPath, 'qemu-system-x86_64'));
    await exe(path.join(inPath, 'vhost-device-vsock'));
    const env: Record<string, string> = { PATH: `/nonexistent:${inPath}` };
    let t = await findQemuTools({ env, settings: { cacheDir: cache } });
    assert.deepEqual(t.qemu, { found: true, path: path.join(inPath, 'qemu-system-x86_64'), source: 'PATH' });
    assert.deepEqual(t.vhostDeviceVsock, {
      found: true,
      path: path.join(inPath, 'vhost-device-vsock'),
      source: 'PATH',
    });
    assert.equal(t.firmwareDir, undefined);

    await exe(layout.qemu);
    await exe(layout.vhostDeviceVsock);
    await fs.mkdir(layout.firmwareDir, { recursive: true });
    t = await findQemuTools({ env, settings: { cacheDir: cache } });
    assert.deepEqual(t.qemu, { found: true, path: layout.qemu, source: 'cache' });
    assert.deepEqual(t.vhostDeviceVsock, { found: true, path: layout.vhostDeviceVsock, source: 'cache' });
    assert.equal(t.firmwareDir, layout.firmwareDir);
    // The cache folder from the environment when no setting names one.
    t = await findQemuTools({ env: { ...env, NITRO_DEV_QEMU_CACHE: cache } });
    assert.equal(t.cacheDir, cache);
    assert.deepEqual(t.qemu, { found: true, path: layout.qemu, source: 'cache' });

    const envQemu = await exe(path.join(dir, 'env/qemu'));
    const envVsock = await exe(path.join(dir, 'env/vsock'));
    t = await findQemuTools({
      env: { ...env, NITRO_DEV_QEMU: envQemu, NITRO_DEV_VHOST_DEVICE_VSOCK: envVsock },
      settings: { cacheDir: cache },
    });
    assert.deepEqual(t.qemu, { found: true, path: envQemu, source: 'environment' });
    assert.deepEqual(t.vhostDeviceVsock, { found: true, path: envVsock, source: 'environment' });
    // A system QEMU finds its own firmware.
    assert.equal(t.firmwareDir, undefined);

    const setQemu = await exe(path.join(dir, 'set/qemu'));
    const setVsock = await exe(path.join(dir, 'set/vsock'));
    t = await findQemuTools({
      env: { ...env, NITRO_DEV_QEMU: envQemu, NITRO_DEV_VHOST_DEVICE_VSOCK: envVsock },
      settings: { cacheDir: cache, qemuPath: setQemu, vhostDeviceVsockPath: setVsock },
    });
    assert.deepEqual(t.qemu, { found: true, path: setQemu, source: 'setting' });
    assert.deepEqual(t.vhostDeviceVsock, { found: true, path: setVsock, source: 'setting' });
  });

  it('says exactly where it looked for what is missing; a wrong explicit path is not replaced by another', async () => {
    const cache = path.join(dir, 'cache');
    const layout = qemuCacheLayout(cache);
    let t = await findQemuTools({ env: { PATH: path.join(dir, 'empty') }, settings: { cacheDir: cache } });
    assert.deepEqual(t.qemu, {
      found: false,
      missing:
        'QEMU (qemu-system-x86_64) was not found: no qemuPath setting, NITRO_DEV_QEMU is not set, ' +
        `${layout.qemu} does not exist, ` +
        'and there is no qemu-system-x86_64 in PATH. Run `nitro-dev qemu setup` to put it in the cache.',
    });
    assert.equal(t.vhostDeviceVsock.found, false);
    assert.match(
      (t.vhostDeviceVsock as { missing: string }).missing,
      /^vhost-device-vsock was not found: no vhostDeviceVsockPath setting, NITRO_DEV_VHOST_DEVICE_VSOCK is not set, .*Run `nitro-dev qemu setup`/,
    );

    await exe(layout.qemu);
    const notExecutable = path.join(dir, 'plain');
    await fs.writeFile(notExecutable, 'x', { mode: 0o644 });
    t = await findQemuTools({
      env: { NITRO_DEV_QEMU: path.join(dir, 'gone') },
      settings: { cacheDir: cache, vhostDeviceVsockPath: notExecutable },
    });
    assert.deepEqual(t.qemu, {
      found: false,
      missing: `QEMU (qemu-system-x86_64): ${path.join(dir, 'gone')} (NITRO_DEV_QEMU) does not exist.`,
    });
    assert.deepEqual(t.vhostDeviceVsock, {
      found: false,
      missing: `vhost-device-vsock: ${notExecutable} (the vhostDeviceVsockPath setting) is not executable.`,
    });
  });
});

describe('(unit) QEMU tools: the nitro-enclave machine and KVM or TCG', function () {
  this.timeout(90_000); // each check starts a shell script
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qemu-probe-test-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));
  const runs = async () =>
    (await fs.readFile(path.join(dir, 'runs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  it('checkNitroMachine: reads -M help and the version', async () => {
    const good = await exe(path.join(dir, 'good'), fakeQemu(dir, {}));
    assert.deepEqual(await checkNitroMachine(good, '/fw'), { nitroEnclave: true, version: '10.0.13' });
    const plain = await exe(path.join(dir, 'plain'), fakeQemu(dir, { noNitro: true }));
    const r = await checkNitroMachine(plain);
    assert.equal(r.nitroEnclave, false);
    assert.equal(r.version, '10.0.13');
    assert.match(
      r.problem!,
      /has no nitro-enclave machine: it needs QEMU >= 9\.2 built with libcbor and gnutls.*nitro-dev qemu setup/,
    );
    const missing = await checkNitroMachine(path.join(dir, 'nothing'));
    assert.equal(missing.nitroEnclave, false);
    assert.match(missing.problem!, /cannot be run: .*was not found/);
  });

  it("the probe's firmware: 64 KiB whose reset vector writes 'K' to COM1 and halts (decoded)", () => {
    const image = probeBiosImage();
    assert.equal(image.length, 65536);
    assert.ok(image.subarray(0, 65536 - 16).every((b) => b === 0));
    const code = image.subarray(65536 - 16);
    assert.deepEqual([...code], [...PROBE_RESET_CODE]);
    // Decode the 16 bytes as real-mode x86, from the reset vector (0xFFF0 in the image's segment).
    const decoded: string[] = [];
    for (let ip = 0; ip < code.length;) {
      const op = code[ip]!;
      if (op === 0xba) {
        decoded.push(`mov dx,0x${(code[ip + 1]! | (code[ip + 2]! << 8)).toString(16)}`);
        ip += 3;
      } else if (op === 0xb0) {
        decoded.push(`mov al,'${String.fromCharCode(code[ip + 1]!)}'`);
        ip += 2;
      } else if (op === 0xee) {
        decoded.push('out dx,al');
        ip += 1;
      } else if (op === 0xf4) {
        decoded.push('hlt');
        ip += 1;
      } else if (op === 0xeb) {
        const rel = (code[ip + 1]! << 24) >> 24;
        decoded.push(`jmp ${ip + 2 + rel === ip ? 'self' : ip + 2 + rel}`);
        ip += 2;
      } else assert.fail(`unexpected opcode 0x${op.toString(16)} at ${ip}`);
    }
    assert.deepEqual(decoded.slice(0, 5), ['mov dx,0x3f8', "mov al,'K'", 'out dx,al', 'hlt', 'jmp self']);
    assert.ok(decoded.slice(5).every((d) => d === 'hlt'));
  });

  it('TCG with the reason when the tiny guest fails under KVM; the answer is kept per binary', async () => {
    const qemu = await exe(path.join(dir, 'qemu'), fakeQemu(dir, { stderr: 'KVM internal error. Suberror: 1' }));
    const cacheDir = path.join(dir, 'cache');
    const first = await probeKvm(qemu, { cacheDir });
    assert.equal(first.accelerator, 'tcg');
    assert.equal(first.cached, false);
    assert.match(first.reason!, /KVM internal error\. Suberror: 1|there is no \/dev\/kvm|\/dev\/kvm cannot be opened/);
    assert.match(acceleratorText(first), /^TCG \(.+\)$/);
    assert.equal(await runs(), 2);
    const again = await probeKvm(qemu, { cacheDir });
    assert.deepEqual(again, { ...first, cached: true });
    assert.equal(await runs(), 2);
    const kept = JSON.parse(await fs.readFile(probeCacheFile(cacheDir), 'utf8'));
    assert.equal(kept.probes[0].qemu, qemu);
    // Another binary at the same path (it was rebuilt): probed again.
    await fs.writeFile(qemu, fakeQemu(dir, { kvmOut: 'K', kvmThen: 'exec sleep 1000' }));
    await fs.utimes(qemu, new Date(), new Date(Date.now() + 5000));
    const rebuilt = await probeKvm(qemu, { cacheDir });
    assert.equal(rebuilt.cached, false);
    assert.equal(await runs(), 4);
  });

  it('KVM when the guest prints K under KVM: the guest, still running, is killed', async function () {
    // Whether the fake guest "runs under KVM" is up to the fake; the real /dev/kvm only changes the reason.
    const qemu = await exe(
      path.join(dir, 'qemu'),
      // The pid is written before the K: once K is read, the guest may be killed at any moment.
      fakeQemu(dir, { kvmThen: `echo $$ > '${dir}/kvm.pid'; printf K; exec sleep 1000` }),
    );
    const r = await probeKvm(qemu, { cacheDir: path.join(dir, 'cache') });
    assert.deepEqual(r, { accelerator: 'kvm', cached: false });
    assert.equal(acceleratorText(r), 'KVM');
    const pid = Number((await fs.readFile(path.join(dir, 'kvm.pid'), 'utf8')).trim());
    // Wait for the kill to land (state, not time).
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r2) => setTimeout(r2, 50));
    }
  });

  it('boots the test kernel as the guest when there is one (firmware may run where a kernel does not)', async () => {
    // This stand-in runs the firmware under KVM but not the kernel, as a paravirtual /dev/kvm does.
    const qemu = await exe(path.join(dir, 'qemu'), fakeQemu(dir, { kvmOut: 'K', kvmThen: 'exec sleep 1000' }));
    const cacheDir = path.join(dir, 'cache');
    const kernel = path.join(dir, 'bzImage');
    assert.equal((await probeKvm(qemu, { cacheDir, kernel })).accelerator, 'kvm'); // no kernel file yet
    const guests = async () => (await fs.readFile(path.join(dir, 'guests'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(await guests(), ['firmware', 'firmware']);
    await fs.writeFile(kernel, 'a kernel');
    const withKernel = await probeKvm(qemu, { cacheDir, kernel });
    assert.equal(withKernel.accelerator, 'tcg');
    assert.equal(withKernel.cached, false);
    assert.match(withKernel.reason!, /the test kernel does not run under KVM: QEMU ended \(exit status 1\)|\/dev\/kvm/);
    assert.deepEqual(await guests(), ['firmware', 'firmware', 'kernel', 'kernel']);
    assert.equal((await probeKvm(qemu, { cacheDir, kernel })).cached, true);
  });

  it('fails, rather than answering, when even TCG does not run the probe guest', async () => {
    const qemu = await exe(
      path.join(dir, 'qemu'),
      fakeQemu(dir, { tcgOut: 'x' }).replace("printf 'x'; exec sleep 1000;;", "printf 'x'; exit 4;;"),
    );
    await assert.rejects(probeKvm(qemu, { cacheDir: path.join(dir, 'cache') }), (e: unknown) => {
      assert.ok(e instanceof ProbeError);
      assert.match(
        e.message,
        /^The accelerator probe failed under TCG, so it cannot tell KVM from TCG: QEMU ended \(exit status 4\) before the probe guest printed\.$/,
      );
      return true;
    });
  });
});
