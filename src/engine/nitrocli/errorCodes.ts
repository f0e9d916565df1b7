// What each nitro-cli error code (E00-E60) means and how to fix it. The list of codes and their
// short meanings come from nitro-cli's error reporting (spec section 7.9); the causes and fixes from
// the run rules (spec 7.10) and the failures users report (docs/landscape.md sections 2-3). The
// wording is this project's. The CLI's `explain` command and the extension's "Show Fix" read it.

/** One code's explanation: `meaning` says what failed and why, `fix` the command or setting that helps. */
export interface ErrorExplanation {
  /** `E26`. */
  readonly code: string;
  /** The short title nitro-cli's report starts with: `Insufficient memory requested`. */
  readonly title: string;
  readonly meaning: string;
  readonly fix: string;
}

type Entry = readonly [title: string, meaning: string, fix: string];

const ALLOCATOR = '/etc/nitro_enclaves/allocator.yaml';
const RESTART_ALLOCATOR = 'sudo systemctl restart nitro-enclaves-allocator.service';
const NE_CPUS = '/sys/module/nitro_enclaves/parameters/ne_cpus';
const DRIVER =
  'Check that the driver is loaded (`lsmod | grep nitro_enclaves`; `sudo modprobe nitro_enclaves`) and that the ' +
  'instance was launched with enclave support enabled.';
const FOLLOW_ON =
  'It is usually the echo of an earlier failure: read the first `[ Exx ]` report of the run (and ' +
  '`/var/log/nitro_enclaves/nitro_enclaves.log`) and fix that one.';
const INTERNAL =
  'An internal failure of nitro-cli or of the system under it, not of your arguments. Run the command again; if ' +
  'it persists, look in `/var/log/nitro_enclaves/nitro_enclaves.log`, check free resources (`ulimit -n`, ' +
  'memory), and report it with the `err<time>.log` file the report names.';

/** Indexed by the code's number: ENTRIES[26] is E26. */
const ENTRIES: readonly Entry[] = [
  /* E00 */ [
    'Unspecified error',
    'nitro-cli failed for a reason it did not classify.',
    'Read the rest of the message and `/var/log/nitro_enclaves/nitro_enclaves.log`; run the command again with ' +
      '`RUST_LOG=debug` for more detail.',
  ],
  /* E01 */ [
    'Missing mandatory argument',
    'A required argument is absent: for run-enclave, neither `--cpu-count` nor `--cpu-ids` was given (on the ' +
      'command line or in the `--config` JSON).',
    'Give the missing argument: `--cpu-count N` or `--cpu-ids ...` (in a `--config` file: `cpu_count` or `cpu_ids`).',
  ],
  /* E02 */ [
    'Conflicting arguments',
    'Two arguments that exclude each other were given together, such as `--cpu-count` with `--cpu-ids` (or ' +
      '`cpu_count` with `cpu_ids` in a `--config` file).',
    'Keep only one of them: either `--cpu-count N` or `--cpu-ids ...`.',
  ],
  /* E03 */ [
    'Invalid argument',
    'An argument has a value nitro-cli refuses: a number that does not parse, a memory size with a unit other ' +
      'than M, G or T (`256_mb`, `1.5G`), or a forbidden enclave CID (1, 2, 3 or 4294967295).',
    'Write memory as digits with an optional M/G/T suffix (`--memory 512`, `--memory 2G`); give `--enclave-cid` ' +
      'a value from 4 to 4294967294, or 0 (or none) to let the driver choose.',
  ],
  /* E04 */ [
    'Socket pair creation failure',
    'nitro-cli could not create the socket pair it talks to its enclave process over.',
    INTERNAL,
  ],
  /* E05 */ ['Process spawn failure', 'nitro-cli could not fork the process that keeps the enclave.', INTERNAL],
  /* E06 */ ['Daemonize failure', 'The enclave process could not detach itself into the background.', INTERNAL],
  /* E07 */ [
    'Cannot read the enclave sockets directory',
    'nitro-cli could not list `/run/nitro_enclaves` (or `NITRO_CLI_SOCKETS_PATH`), where each enclave process ' +
      'has its socket.',
    'Check that the directory exists and that your user may read it (`ls -ld /run/nitro_enclaves`; be in the ' +
      '`ne` group: `sudo usermod -aG ne $USER`, then log in again).',
  ],
  /* E08 */ ['Unusable connection', 'The connection to an enclave process could not be used.', INTERNAL],
  /* E09 */ ['Socket close error', 'A socket to an enclave process could not be closed.', INTERNAL],
  /* E10 */ [
    'Socket connect-timeout setup error',
    'The timeout of a connection to an enclave process could not be set.',
    INTERNAL,
  ],
  /* E11 */ [
    'Socket error',
    'A socket operation between nitro-cli and an enclave process failed.',
    `${FOLLOW_ON} If the enclave did not start, check its image signature (\`nitro-cli describe-eif\`) and memory.`,
  ],
  /* E12 */ ['Epoll error', 'Waiting on the enclave process sockets (epoll) failed.', INTERNAL],
  /* E13 */ [
    'Inotify error',
    'Watching the enclave sockets directory (inotify) failed.',
    `${INTERNAL} Raise \`fs.inotify.max_user_watches\` / \`max_user_instances\` if they are exhausted.`,
  ],
  /* E14 */ [
    'Invalid command',
    'An enclave process received a command it does not understand.',
    'Make sure every enclave was started by the same nitro-cli version you run now (`nitro-cli --version`); ' +
      'terminate and run again the enclaves started by an older one.',
  ],
  /* E15 */ ['Lock acquire failure', 'An internal lock could not be taken.', INTERNAL],
  /* E16 */ ['Thread join failure', 'An internal thread did not finish cleanly.', INTERNAL],
  /* E17 */ [
    'Serialization error',
    'JSON could not be read or written: usually a `--config` file or `--metadata` JSON that is not valid.',
    'Check the JSON given to `--config` (keys `eif_path`, `memory_mib`, `cpu_count` or `cpu_ids`, ...) or to ' +
      '`--metadata` with `jq . FILE`.',
  ],
  /* E18 */ [
    'Log file permissions error',
    'nitro-cli could not set up its log file in `/var/log/nitro_enclaves` (or `NITRO_CLI_LOGS_PATH`).',
    'Make the log folder writable for your user (be in the `ne` group: `sudo usermod -aG ne $USER`, log in ' +
      'again), or point `NITRO_CLI_LOGS_PATH` at a folder you can write.',
  ],
  /* E19 */ [
    'File operation failure',
    'A file could not be opened, read, seeked or written; the report names the file and the operation. On a ' +
      'parent this is most often `/dev/nitro_enclaves` or the CPU pool file `' +
      NE_CPUS +
      '` (the driver is not loaded, enclave support is off, or your user may not open the device), or the ' +
      '`--eif-path` itself.',
    `Check the named path exists and your permissions on it (\`ls -l PATH\`). For \`/dev/nitro_enclaves\`: be in ` +
      `the \`ne\` group (\`sudo usermod -aG ne $USER\`, then log in again; the device should be \`root:ne\`). For ` +
      `\`ne_cpus\` or a missing device: ${DRIVER} For an EIF, give its correct path.`,
  ],
  /* E20 */ [
    'Invalid CPU configuration',
    'The same CPU id appears more than once in `--cpu-ids`.',
    'List each CPU id once in `--cpu-ids`.',
  ],
  /* E21 */ [
    'CPU not in the enclave pool',
    `A CPU given in \`--cpu-ids\` is not in the enclave CPU pool (\`${NE_CPUS}\`).`,
    `Use CPUs from the pool (\`cat ${NE_CPUS}\`), or add them to \`cpu_pool\` in \`${ALLOCATOR}\` and run ` +
      `\`${RESTART_ALLOCATOR}\`.`,
  ],
  /* E22 */ [
    'Insufficient CPUs available',
    'More CPUs were requested than the enclave CPU pool holds.',
    `Lower \`--cpu-count\`, or raise \`cpu_count\` (or widen \`cpu_pool\`) in \`${ALLOCATOR}\` and run ` +
      `\`${RESTART_ALLOCATOR}\`. The pool takes whole cores and never CPU 0's core.`,
  ],
  /* E23 */ [
    'Malformed CPU id',
    `The CPU pool file \`${NE_CPUS}\` holds a CPU id that is not a number.`,
    `Fix \`cpu_pool\` in \`${ALLOCATOR}\` (cpu-list syntax such as \`2,3,6-9\`) and run \`${RESTART_ALLOCATOR}\`.`,
  ],
  /* E24 */ [
    'Invalid CPU interval',
    `The CPU pool file \`${NE_CPUS}\` holds a range that is not valid (such as \`5-3\`).`,
    `Fix \`cpu_pool\` in \`${ALLOCATOR}\` (ranges low-high, such as \`2-5\`) and run \`${RESTART_ALLOCATOR}\`.`,
  ],
  /* E25 */ [
    'Unknown hugepage size',
    'The system offers a hugepage size nitro-cli does not know.',
    'Reserve enclave memory in the standard sizes (2 MiB or 1 GiB hugepages) through the allocator: set ' +
      '`memory_mib` in `' +
      ALLOCATOR +
      '` and run `' +
      RESTART_ALLOCATOR +
      '`.',
  ],
  /* E26 */ [
    'Insufficient memory requested',
    'The memory asked for is smaller than the image needs: an enclave needs at least 4 times the size of its EIF ' +
      'file (the whole file is copied into enclave memory and unpacked there).',
    'Raise `--memory` (or `memory_mib` in a `--config` file) to at least 4 × the EIF size in MiB, rounded up to ' +
      'the hugepage size (the report names the minimum; `ls -l` the EIF for its size). Make sure the allocator ' +
      'reserves that much too (`memory_mib` in `' +
      ALLOCATOR +
      '`, else E27), or make the image smaller.',
  ],
  /* E27 */ [
    'Insufficient memory available',
    'The hugepages reserved for enclaves (by the allocator service) are fewer than the memory requested, or are ' +
      'in use by other enclaves.',
    `Raise \`memory_mib\` in \`${ALLOCATOR}\` to at least the enclave's memory (the sum of all running ` +
      `enclaves') and run \`${RESTART_ALLOCATOR}\` (check it with \`systemctl status ` +
      `nitro-enclaves-allocator.service\`), or lower \`--memory\`. Terminate enclaves you no longer need.`,
  ],
  /* E28 */ [
    'Invalid enclave file descriptor',
    'The driver refused to create the enclave (the NE_CREATE_VM ioctl failed): enclave support may be off, or ' +
      'the instance already runs the most enclaves it can.',
    `Check \`nitro-cli describe-enclaves\` for enclaves still running and terminate unused ones. ${DRIVER}`,
  ],
  /* E29 */ [
    'Ioctl failure',
    "The enclave driver refused a request; the report includes the driver's reason. Common ones: the CPUs are " +
      'not full physical cores, the memory region is not a multiple of 2 MiB, or a previous enclave is still being ' +
      'torn down.',
    `Act on the driver's reason: give an even \`--cpu-count\` (whole cores, both hyperthreads), keep memory a ` +
      `multiple of 2 MiB; if an enclave just exited, wait a moment and run again. Check \`dmesg | grep nitro\` for ` +
      `detail.`,
  ],
  /* E30 */ [
    'Image load info failure',
    'The driver could not tell where to load the image (get-image-load-info ioctl).',
    `${DRIVER} Check \`dmesg | grep nitro\`.`,
  ],
  /* E31 */ [
    'Set memory region failure',
    'The driver refused a memory region for the enclave: too many regions (very large images), regions not 2 ' +
      'MiB-aligned, or memory on another NUMA node than the enclave CPUs.',
    `Reserve memory in larger hugepages on the CPU pool's NUMA node: set \`memory_mib\` in \`${ALLOCATOR}\` and ` +
      `run \`${RESTART_ALLOCATOR}\`. For very large images, use 1 GiB hugepages or a smaller image.`,
  ],
  /* E32 */ [
    'Add vCPU failure',
    'The driver refused to add a CPU to the enclave: it is not in the pool, is already used by another enclave, ' +
      'or does not complete a full core.',
    `Give an even \`--cpu-count\` (whole cores) or \`--cpu-ids\` of full cores from the pool (\`cat ` +
      `${NE_CPUS}\`); terminate enclaves that hold the CPUs.`,
  ],
  /* E33 */ [
    'Start enclave failure',
    'The driver could not start the enclave (start-enclave ioctl): usually no CPUs or too little memory were set ' +
      'up, or the image does not fit its layout.',
    `Check \`dmesg | grep nitro\`; give at least 2 CPUs and memory of at least 64 MiB and 4 × the EIF size.`,
  ],
  /* E34 */ [
    'Memory overflow',
    'The EIF does not fit in the enclave memory allocated for it.',
    "Raise `--memory` (at least 4 × the EIF size; see E26) and the allocator's `memory_mib` to match.",
  ],
  /* E35 */ [
    'EIF parsing error',
    'The image file could not be read as an EIF: it is damaged, truncated, not an EIF, or (when reading into ' +
      'enclave memory fails) the hugepages it needs are not available.',
    `Check the image with \`nitro-cli describe-eif --eif-path FILE\` (or \`nitro-dev describe-eif\`); rebuild it ` +
      `if it is damaged. If it is fine, reserve hugepages: \`memory_mib\` in \`${ALLOCATOR}\`, then ` +
      `\`${RESTART_ALLOCATOR}\`.`,
  ],
  /* E36 */ [
    'Enclave boot failure',
    'The enclave started but never sent its "ready" heartbeat (vsock port 9000) in time: the image does not boot ' +
      '(wrong architecture, damaged), memory is too small to unpack it, or its signing certificate is not valid.',
    'Run it with `--debug-mode --attach-console` to see the boot output; give more memory (4 × the EIF size or ' +
      'more); check the image with `nitro-cli describe-eif` (architecture, signature, certificate dates); build it ' +
      "for the parent's architecture.",
  ],
  /* E37 */ ['Enclave event wait error', 'Waiting for an event of the enclave (such as its exit) failed.', INTERNAL],
  /* E38 */ [
    'Enclave process command not executed',
    'An enclave process did not carry out the command it was sent.',
    FOLLOW_ON,
  ],
  /* E39 */ [
    'Enclave process connection failure',
    'nitro-cli could not connect to at least one enclave process (the report says how many). It is mostly the ' +
      'follow-on of the real failure: an enclave that failed to start (E19, E26, E27, E35, E36) or a socket your ' +
      'user may not open.',
    `${FOLLOW_ON} Check the permissions on \`/run/nitro_enclaves\` and \`/dev/nitro_enclaves\` (be in the \`ne\` ` +
      `group) and that the allocator reserved hugepages (\`systemctl status nitro-enclaves-allocator.service\`).`,
  ],
  /* E40 */ [
    'Socket path not found',
    'The socket of the enclave named does not exist: the enclave has exited or the id is wrong.',
    'List the running enclaves with `nitro-cli describe-enclaves` and use an id or name from it.',
  ],
  /* E41 */ ['Enclave process reply failure', 'An enclave process could not send its reply.', FOLLOW_ON],
  /* E42 */ [
    'Enclave memory mmap error',
    'Enclave memory could not be mapped to copy the image in.',
    `Check that hugepages are reserved (\`memory_mib\` in \`${ALLOCATOR}\`, then \`${RESTART_ALLOCATOR}\`) and ` +
      `that the parent has free memory.`,
  ],
  /* E43 */ ['Enclave memory munmap error', 'Enclave memory could not be unmapped.', INTERNAL],
  /* E44 */ [
    'Console connection failure',
    'The console of the enclave could not be opened: only an enclave started in debug mode has a console, and it ' +
      'must still be running.',
    'Terminate the enclave and run it again with `--debug-mode` (or `--attach-console`), then `nitro-cli console ' +
      '--enclave-id ID`.',
  ],
  /* E45 */ [
    'Console read error',
    'Reading the enclave console failed, usually because the enclave exited.',
    'Check that the enclave still runs (`nitro-cli describe-enclaves`) and connect again.',
  ],
  /* E46 */ [
    'Console output write error',
    'The console output could not be written to the terminal or pipe.',
    'Check where the output goes (a closed pipe, a full disk) and run the console command again.',
  ],
  /* E47 */ [
    'Integer parsing error',
    'A number (the enclave CID used to reach the console) could not be read.',
    'Use an enclave id from `nitro-cli describe-enclaves`.',
  ],
  /* E48 */ [
    'EIF building error',
    'The enclave image could not be built: linuxkit failed (often "image not found" with newer Docker versions), ' +
      'the blobs (kernel, init) are missing, or the output could not be written.',
    'Check `/usr/share/nitro_enclaves/blobs/` (or `NITRO_CLI_BLOBS`) holds the kernel, `cmdline`, `init` and ' +
      '`nsm.ko`; update nitro-cli for your Docker version; check `--output-file` is writable. `nitro-dev ' +
      'build-enclave` builds without Docker.',
  ],
  /* E49 */ [
    'Docker image build error',
    'Building the Docker image from `--docker-dir` failed.',
    'Run `docker build` in that folder to see the error and fix the Dockerfile; check the Docker daemon runs ' +
      '(`systemctl status docker`) and your user may use it (`docker` group).',
  ],
  /* E50 */ [
    'Docker image pull error',
    'The Docker image named by `--docker-uri` could not be pulled or found: a wrong name or tag, no registry ' +
      'access, or a Docker Engine API that nitro-cli does not speak (Docker 25+ with older nitro-cli).',
    'Check the name with `docker pull URI` (or `docker images`); log in to the registry; update nitro-cli if ' +
      'Docker is 25 or newer.',
  ],
  /* E51 */ [
    'Artifacts path not set',
    'nitro-cli has no folder for its build artifacts: neither `NITRO_CLI_ARTIFACTS` nor `HOME` is set.',
    'Set `NITRO_CLI_ARTIFACTS` to a writable folder (else `~/.nitro_cli/` is used, which needs `HOME`).',
  ],
  /* E52 */ [
    'Blobs path not set',
    'nitro-cli has no folder for the kernel and init blobs (`NITRO_CLI_BLOBS`). Defined, not raised by nitro-cli ' +
      '1.5.0.',
    'Set `NITRO_CLI_BLOBS` to the blobs folder, normally `/usr/share/nitro_enclaves/blobs/`.',
  ],
  /* E53 */ [
    'Clock skew error',
    'The system clock went backwards while the console was timing its disconnect.',
    "Check the parent's time synchronisation (`timedatectl`) and connect again.",
  ],
  /* E54 */ ['Signal masking error', 'nitro-cli could not block signals while setting up the enclave.', INTERNAL],
  /* E55 */ ['Signal unmasking error', 'nitro-cli could not unblock signals.', INTERNAL],
  /* E56 */ [
    'Logger error',
    'nitro-cli could not set up its logging.',
    'Check `/var/log/nitro_enclaves` (or `NITRO_CLI_LOGS_PATH`) exists and is writable for your user, and that ' +
      '`RUST_LOG` holds a valid level.',
  ],
  /* E57 */ [
    'Hasher error',
    'Measuring (hashing) the image or a certificate failed: a file could not be read, or a signing certificate ' +
      'is not valid PEM.',
    'Check the files given (`--eif-path`, `--input`, `--signing-certificate`) exist, are readable, and that a ' +
      'certificate is PEM (`openssl x509 -in CERT -noout -text`).',
  ],
  /* E58 */ [
    'Enclave naming error',
    'No running enclave has the name given, or several do.',
    'List the enclaves with `nitro-cli describe-enclaves` and use an exact `EnclaveName`, or `--enclave-id`.',
  ],
  /* E59 */ [
    'EIF signature checker error',
    'The image is signed, but its signature does not verify or its signing certificate is not valid now (expired ' +
      'or not yet valid).',
    'Check the certificate dates with `nitro-cli describe-eif --eif-path FILE` (SigningCertificate ' +
      'NotBefore/NotAfter); sign again with a valid certificate (`nitro-cli sign-eif` or `nitro-dev sign-eif`), or ' +
      'rebuild unsigned.',
  ],
  /* E60 */ [
    'EIF signing error',
    'The image could not be signed: the private key and the certificate do not match, the key cannot be read, or ' +
      'a KMS key could not be used (credentials, region, cross-account permissions).',
    'Check that `--private-key` matches `--signing-certificate` (an ECDSA P-384 key is expected); for a KMS key ' +
      'ARN check the credentials and `kms:Sign`/`kms:GetPublicKey` permissions; check the output file is writable.',
  ],
];

/** The number of a code: `E26`, `e26`, `26` and `E5` give 26 and 5; anything else undefined. */
export function errorCodeNumber(code: string): number | undefined {
  const m = /^[eE]?(\d{1,2})$/.exec(code.trim());
  return m ? Number(m[1]) : undefined;
}

/** The explanation of a nitro-cli error code (`E26`, `e26` or `26`), or undefined when there is none. */
export function explainError(code: string | number): ErrorExplanation | undefined {
  const n = typeof code === 'number' ? (Number.isInteger(code) ? code : undefined) : errorCodeNumber(code);
  if (n === undefined) return undefined;
  const entry = ENTRIES[n];
  if (!entry) return undefined;
  const [title, meaning, fix] = entry;
  return { code: `E${String(n).padStart(2, '0')}`, title, meaning, fix };
}

/** Every explained code, E00 first. */
export function explainedErrorCodes(): readonly string[] {
  return ENTRIES.map((_, n) => `E${String(n).padStart(2, '0')}`);
}
