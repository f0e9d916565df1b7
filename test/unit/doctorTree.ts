// Fake parent-instance trees for the doctor's tests: the /sys, /dev, /etc and /proc files it reads,
// written under a temporary folder that stands for `/`.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What a tree holds; every field has the healthy parent's value unless a test changes it. */
export interface TreeSpec {
  driver?: boolean;
  device?: boolean;
  /** The device's mode (default 0o660). */
  deviceMode?: number;
  /** /etc/group: by default `ne` has the current process's group id. */
  group?: string;
  allocator?: string | undefined;
  /** nr_hugepages of 2 MiB pages (default 256: 512 MiB). */
  hugepages2M?: number;
  neCpus?: string | undefined;
  vsockProxy?: string | undefined;
  nitroCli?: boolean;
}

export const HEALTHY_ALLOCATOR = '---\nmemory_mib: 512\ncpu_count: 2\n';
export const HEALTHY_VSOCK_PROXY =
  'allowlist:\n' +
  '- {address: kms.us-east-1.amazonaws.com, port: 443}\n' +
  '- {address: kms-fips.us-east-1.amazonaws.com, port: 443}\n';

const gid = (): number => (typeof process.getgid === 'function' ? process.getgid() : 0);

/** The group file of the healthy tree: `ne` is the group the test process runs with. */
export function healthyGroupFile(): string {
  return `root:x:0:\nne:x:${gid()}:${os.userInfo().username}\n`;
}

/** /etc/group in which `ne` is another group than the one the device (the test's files) belongs to. */
export function otherGroupFile(): string {
  return `root:x:0:\nne:x:${gid() + 4242}:\n${gid() === 0 ? '' : `users:x:${gid()}:\n`}`;
}

export class FakeTree {
  readonly root: string;
  constructor(spec: TreeSpec = {}) {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'nitro-doctor-'));
    const s: Required<Omit<TreeSpec, 'allocator' | 'neCpus' | 'vsockProxy'>> & TreeSpec = {
      driver: true,
      device: true,
      deviceMode: 0o660,
      group: healthyGroupFile(),
      hugepages2M: 256,
      nitroCli: true,
      ...spec,
    };
    const has = (k: keyof TreeSpec) => Object.prototype.hasOwnProperty.call(spec, k);
    const allocator = has('allocator') ? spec.allocator : HEALTHY_ALLOCATOR;
    const neCpus = has('neCpus') ? spec.neCpus : '1,5\n';
    const vsock = has('vsockProxy') ? spec.vsockProxy : HEALTHY_VSOCK_PROXY;
    this.write('sys/devices/system/cpu/online', '0-7\n');
    this.write('proc/meminfo', 'MemTotal:       16303412 kB\nMemFree:         1000000 kB\n');
    this.write('etc/group', s.group);
    this.write('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', `${s.hugepages2M}\n`);
    this.write('sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages', '0\n');
    if (s.nitroCli) {
      this.write('usr/bin/nitro-cli', '#!/bin/sh\n');
      chmodSync(path.join(this.root, 'usr/bin/nitro-cli'), 0o755);
    }
    if (s.driver) {
      mkdirSync(path.join(this.root, 'sys/module/nitro_enclaves/parameters'), { recursive: true });
      if (neCpus !== undefined) this.write('sys/module/nitro_enclaves/parameters/ne_cpus', neCpus);
    }
    if (s.device) {
      this.write('dev/nitro_enclaves', '');
      chmodSync(path.join(this.root, 'dev/nitro_enclaves'), s.deviceMode);
    }
    if (allocator !== undefined) this.write('etc/nitro_enclaves/allocator.yaml', allocator);
    if (vsock !== undefined) this.write('etc/nitro_enclaves/vsock-proxy.yaml', vsock);
  }

  write(rel: string, text: string): void {
    const file = path.join(this.root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }

  /** A sparse file of `size` bytes standing for a large EIF (only its size matters to the doctor). */
  sparseFile(name: string, size: number): string {
    const file = path.join(this.root, name);
    writeFileSync(file, '');
    // truncate extends without writing the bytes.
    truncateSync(file, size);
    return file;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
