import * as assert from 'node:assert/strict';
import { explainError, explainedErrorCodes, errorCodeNumber } from '../../../../src/engine';

/**
 * The codes nitro-cli reports, as listed in the error-reporting table of the spec (eif.md section
 * 7.9, "Error reporting"), with the short meaning given there. Copied here as data: every one must
 * have an explanation, and the catalogue must explain no other.
 */
const SPEC_CODES: readonly (readonly [string, string])[] = [
  ['E00', 'unspecified error'],
  ['E01', 'missing mandatory argument'],
  ['E02', 'conflicting arguments'],
  ['E03', 'invalid argument'],
  ['E04', 'socket pair creation failure'],
  ['E05', 'process spawn (fork) failure'],
  ['E06', 'daemonize failure'],
  ['E07', 'cannot read the enclave sockets directory'],
  ['E08', 'unusable connection'],
  ['E09', 'socket close error'],
  ['E10', 'socket connect-timeout setup error'],
  ['E11', 'generic socket error'],
  ['E12', 'epoll error'],
  ['E13', 'inotify error'],
  ['E14', 'invalid command sent over socket'],
  ['E15', 'lock acquire failure'],
  ['E16', 'thread join failure'],
  ['E17', 'serde (serialization) error'],
  ['E18', 'log file permissions error'],
  ['E19', 'file operation failure (open/read/seek/write)'],
  ['E20', 'invalid CPU configuration (duplicate CPU IDs)'],
  ['E21', 'requested CPU not in the enclave CPU pool'],
  ['E22', 'more CPUs requested than the pool has'],
  ['E23', 'malformed CPU id in pool file'],
  ['E24', 'invalid CPU interval in pool file'],
  ['E25', 'unknown huge-page size'],
  ['E26', 'insufficient memory requested'],
  ['E27', 'insufficient (huge-page) memory available'],
  ['E28', 'invalid enclave fd (NE_CREATE_VM failed)'],
  ['E29', 'ioctl failure (generic; driver error text included)'],
  ['E30', 'get-image-load-info ioctl failure'],
  ['E31', 'set-memory-region ioctl failure'],
  ['E32', 'add-vCPU ioctl failure'],
  ['E33', 'start-enclave ioctl failure'],
  ['E34', 'memory overflow while placing the EIF'],
  ['E35', 'EIF parsing error'],
  ['E36', 'enclave boot failure (no heartbeat)'],
  ['E37', 'enclave event wait error'],
  ['E38', 'an enclave process did not execute the command'],
  ['E39', 'could not connect to an enclave process'],
  ['E40', 'socket path not found'],
  ['E41', 'enclave process failed to send reply'],
  ['E42', 'enclave memory mmap error'],
  ['E43', 'enclave memory munmap error'],
  ['E44', 'console connection failure'],
  ['E45', 'console read error'],
  ['E46', 'console output write error'],
  ['E47', 'integer parsing error (CID for console)'],
  ['E48', 'EIF building error'],
  ['E49', 'Docker image build error'],
  ['E50', 'Docker image pull error'],
  ['E51', 'artifacts path not set (no HOME / NITRO_CLI_ARTIFACTS)'],
  ['E52', 'blobs path not set (defined, not raised in 1.5.0)'],
  ['E53', 'clock skew error (console)'],
  ['E54', 'signal masking error'],
  ['E55', 'signal unmasking error'],
  ['E56', 'logger error'],
  ['E57', 'hasher error'],
  ['E58', 'enclave naming error (name not found / ambiguous)'],
  ['E59', 'EIF signature checker error (bad signature / expired certificate)'],
  ['E60', 'EIF signing error'],
];

describe('(unit) nitro-cli error codes explained', () => {
  it('explains exactly the codes of the spec (7.9), each with a title, a meaning and a fix', () => {
    assert.deepEqual(
      explainedErrorCodes(),
      SPEC_CODES.map(([code]) => code),
    );
    for (const [code] of SPEC_CODES) {
      const e = explainError(code);
      assert.ok(e, code);
      assert.equal(e.code, code);
      for (const field of ['title', 'meaning', 'fix'] as const) {
        assert.ok(e[field].trim().length >= (field === 'title' ? 5 : 20), `${code}.${field} is too short: ${e[field]}`);
      }
      assert.notEqual(e.meaning, e.fix, code);
    }
  });

  it('accepts E26, e26, 26, 7 and the number, and refuses anything else', () => {
    for (const form of ['E26', 'e26', '26', ' E26 ']) assert.equal(explainError(form)?.code, 'E26', form);
    assert.equal(explainError(26)?.code, 'E26');
    assert.equal(explainError('7')?.code, 'E07');
    assert.equal(explainError('E07')?.code, 'E07');
    for (const bad of ['E61', 'E99', '61', '', 'E', 'E2x', 'X26', 'E026', '-1', '2.5', 'E26E26']) {
      assert.equal(explainError(bad), undefined, bad);
    }
    for (const bad of [61, -1, 2.5, Number.NaN]) assert.equal(explainError(bad), undefined, String(bad));
    assert.equal(errorCodeNumber('e05'), 5);
    assert.equal(errorCodeNumber('five'), undefined);
  });

  it('names the concrete fixes of the failures users hit most (landscape 3.3)', () => {
    const fix = (code: string) => explainError(code)?.fix ?? '';
    const meaning = (code: string) => explainError(code)?.meaning ?? '';
    // E26: 4 × the EIF size, rounded up to the hugepage size; raise --memory.
    assert.match(meaning('E26'), /4 times the size of its EIF/);
    assert.match(fix('E26'), /--memory/);
    assert.match(fix('E26'), /4 × the EIF size/);
    assert.match(fix('E26'), /hugepage size/);
    // E27: the allocator's memory_mib and its service.
    assert.match(fix('E27'), /memory_mib/);
    assert.match(fix('E27'), /\/etc\/nitro_enclaves\/allocator\.yaml/);
    assert.match(fix('E27'), /systemctl restart nitro-enclaves-allocator\.service/);
    // E19: the path and its permissions, the device's group, the driver.
    assert.match(fix('E19'), /permissions/);
    assert.match(fix('E19'), /\/dev\/nitro_enclaves/);
    assert.match(fix('E19'), /usermod -aG ne/);
    assert.match(fix('E19'), /modprobe nitro_enclaves/);
    // E39: usually a follow-on of the first error.
    assert.match(meaning('E39'), /follow-on/);
    assert.match(fix('E39'), /first `\[ Exx \]` report/);
    // E44: debug mode.
    assert.match(fix('E44'), /--debug-mode/);
    // E22: the CPU pool in allocator.yaml.
    assert.match(fix('E22'), /cpu_count/);
    assert.match(fix('E22'), /nitro-enclaves-allocator\.service/);
    // E51/E52: the environment variables.
    assert.match(fix('E51'), /NITRO_CLI_ARTIFACTS/);
    assert.match(fix('E52'), /NITRO_CLI_BLOBS/);
  });
});
