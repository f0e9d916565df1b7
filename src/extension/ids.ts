// Every identifier the extension shares with package.json, in one place. A unit test checks that
// this table and the manifest agree both ways.

export const EXTENSION_ID = 'nitroenclaves.nitro-enclaves';

export const VIEW_CONTAINER = 'nitroEnclaves';

export const VIEWS = {
  parents: 'nitroEnclaves.views.parents',
  images: 'nitroEnclaves.views.images',
} as const;

/**
 * How a command shows in the Command Palette: `true` always; `false` never (it acts on a tree node
 * or Explorer file and has no picker); a string: the `when` clause it needs (a capability, a state
 * key, the active editor).
 */
type Palette = boolean | string;

/**
 * A command's row: its id, its palette visibility, and `picker` when, run without an argument (from
 * the palette), it asks for what it acts on (a quick pick, an input box or a file dialog): its title
 * then ends in "...", and it is shown in the palette.
 */
interface CommandSpec {
  readonly id: string;
  readonly palette: Palette;
  readonly picker?: true;
}

/**
 * Context keys the extension sets (`setContext`) for package.json `when` clauses: one per optional
 * backend capability (engine/platform/capabilities.ts), true while a registered backend has it.
 */
export const CONTEXT_KEYS = {
  addParents: 'nitroEnclaves.backends.addParents',
  developmentRoots: 'nitroEnclaves.backends.developmentRoots',
  applications: 'nitroEnclaves.backends.applications',
  stateRepair: 'nitroEnclaves.backends.stateRepair',
  emulatedVsock: 'nitroEnclaves.backends.emulatedVsock',
  parentNsm: 'nitroEnclaves.backends.parentNsm',
} as const;

/**
 * Context keys of what the extension last saw of the parents (set by parents/parentStatusBar.ts),
 * for the palette `when` clauses of commands that cannot work without a parent or an enclave.
 * They say what is known to be missing: before the extension activates they are unset, so the
 * commands show (running one activates the extension, which then looks), and they hide once the
 * extension has seen that no parent is reachable or no enclave runs.
 */
export const STATE_KEYS = {
  /** True while no parent instance is reachable (none is configured, or none answers). */
  noParent: 'nitroEnclaves.parents.noneReachable',
  /** True while no enclave runs on a reachable parent (and every parent could be asked). */
  noEnclave: 'nitroEnclaves.enclaves.noneRunning',
  /**
   * True while no enclave runs on a parent whose backend answers its NSM from the parent side (the
   * parentNsm capability): on nitro-cli and QEMU parents only the application inside asks its NSM.
   */
  noAttestable: 'nitroEnclaves.enclaves.noneAttestable',
} as const;

/** The palette `when` of commands that need a parent, and of those that need a running enclave. */
const NEEDS_PARENT = `!${STATE_KEYS.noParent}`;
const NEEDS_ENCLAVE = `!${STATE_KEYS.noEnclave}`;
const NEEDS_ATTESTABLE_ENCLAVE = `!${STATE_KEYS.noAttestable}`;

/**
 * The commands of the Parent Instances side, registered by src/extension/parents from this table
 * (one handler per key, checked by the compiler). Palette visibility derives from it, and the
 * manifest test checks package.json against it.
 */
export const PARENT_COMMANDS = {
  enclaveRun: { id: 'nitroEnclaves.enclave.run', palette: NEEDS_PARENT, picker: true },
  enclaveTerminate: { id: 'nitroEnclaves.enclave.terminate', palette: NEEDS_ENCLAVE, picker: true },
  enclaveConsole: { id: 'nitroEnclaves.enclave.console', palette: NEEDS_ENCLAVE, picker: true },
  enclaveDescribe: { id: 'nitroEnclaves.enclave.describe', palette: NEEDS_ENCLAVE, picker: true },
  enclaveAttest: { id: 'nitroEnclaves.enclave.attest', palette: NEEDS_ATTESTABLE_ENCLAVE, picker: true },
  enclaveCopyId: { id: 'nitroEnclaves.enclave.copyId', palette: NEEDS_ENCLAVE, picker: true },
  parentEditAllocator: { id: 'nitroEnclaves.parent.editAllocator', palette: NEEDS_PARENT },
  parentAdd: { id: 'nitroEnclaves.parent.add', palette: CONTEXT_KEYS.addParents, picker: true },
  parentSelect: { id: 'nitroEnclaves.parent.select', palette: NEEDS_PARENT, picker: true },
} as const satisfies Record<string, CommandSpec>;

/** The read-only custom editor for .eif files. */
export const EIF_VIEWER = 'nitroEnclaves.eifViewer';

/** The other commands, registered by their modules (commands/, attestation/, build/). */
const OTHER_COMMANDS = {
  parentsRefresh: { id: 'nitroEnclaves.parents.refresh', palette: true },
  imagesRefresh: { id: 'nitroEnclaves.images.refresh', palette: true },
  imageDescribe: { id: 'nitroEnclaves.image.describe', palette: true, picker: true },
  imageComputePcr: { id: 'nitroEnclaves.image.computePcr', palette: true, picker: true },
  certificateComputePcr: { id: 'nitroEnclaves.certificate.computePcr', palette: true, picker: true },
  imageSign: { id: 'nitroEnclaves.image.sign', palette: true, picker: true },
  imageCopyPcr: { id: 'nitroEnclaves.image.copyPcr', palette: false },
  /** Without a node or file it copies the PCRs of the active Enclave Image Viewer. */
  imageCopyAllPcrs: { id: 'nitroEnclaves.image.copyAllPcrs', palette: `activeCustomEditorId == ${EIF_VIEWER}` },
  imageReveal: { id: 'nitroEnclaves.image.reveal', palette: false },
  imageBuild: { id: 'nitroEnclaves.image.build', palette: true, picker: true },
  imageCheckReproducibility: { id: 'nitroEnclaves.image.checkReproducibility', palette: true, picker: true },
  projectNew: { id: 'nitroEnclaves.project.new', palette: true, picker: true },
  attestationOpen: { id: 'nitroEnclaves.attestation.open', palette: true, picker: true },
  attestationOpenFromClipboard: { id: 'nitroEnclaves.attestation.openFromClipboard', palette: true },
  logShow: { id: 'nitroEnclaves.log.show', palette: true },
  parentDoctor: { id: 'nitroEnclaves.parent.doctor', palette: true, picker: true },
  kmsGeneratePolicy: { id: 'nitroEnclaves.kms.generatePolicy', palette: true, picker: true },
  pcrCopyKmsCondition: { id: 'nitroEnclaves.pcr.copyKmsCondition', palette: false },
  kmsStart: { id: 'nitroEnclaves.kms.start', palette: CONTEXT_KEYS.emulatedVsock },
  kmsStop: { id: 'nitroEnclaves.kms.stop', palette: CONTEXT_KEYS.emulatedVsock },
  kmsCopyKeyArn: { id: 'nitroEnclaves.kms.copyKeyArn', palette: false },
  vsockProxyStart: { id: 'nitroEnclaves.vsockProxy.start', palette: CONTEXT_KEYS.emulatedVsock, picker: true },
  vsockProxyStop: { id: 'nitroEnclaves.vsockProxy.stop', palette: CONTEXT_KEYS.emulatedVsock, picker: true },
  /**
   * Runs `nitro-dev qemu setup` in a terminal after asking (it builds for about 15 minutes), so its
   * title ends in "..."; in the palette even while no QEMU backend is registered: its success adds it.
   */
  qemuSetup: { id: 'nitroEnclaves.qemu.setup', palette: true, picker: true },
} as const satisfies Record<string, CommandSpec>;

/** Every command of the extension: its id and palette visibility. */
export const COMMAND_TABLE = { ...OTHER_COMMANDS, ...PARENT_COMMANDS } as const;

type Table = typeof COMMAND_TABLE;

/** Command ids by key. */
export const COMMANDS = Object.fromEntries(Object.entries(COMMAND_TABLE).map(([key, spec]) => [key, spec.id])) as {
  readonly [K in keyof Table]: Table[K]['id'];
};

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];
export type ParentCommandKey = keyof typeof PARENT_COMMANDS;
export type ParentCommandId = (typeof PARENT_COMMANDS)[ParentCommandKey]['id'];

/** The package.json `commandPalette` entries the table implies: a `when` clause per command not always shown. */
export const PALETTE_WHEN: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(COMMAND_TABLE as Record<string, CommandSpec>)
    .filter((c) => c.palette !== true)
    .map((c) => [c.id, c.palette === false ? 'false' : (c.palette as string)]),
);

/** Commands that act on a tree node or Explorer file and have no picker: hidden from the palette. */
export const NODE_ONLY_COMMANDS: readonly CommandId[] = Object.values(COMMAND_TABLE)
  .filter((c) => c.palette === false)
  .map((c) => c.id);

/** Commands that ask for what they act on when run from the palette: their titles end in "...". */
export const PICKER_COMMANDS: readonly CommandId[] = Object.values(COMMAND_TABLE as Record<string, CommandSpec>)
  .filter((c) => c.picker === true)
  .map((c) => c.id as CommandId);

/**
 * The attestation document viewer: a custom editor (default for *.attestation, *.att.cbor; "Open
 * With" for *.cbor) and a webview panel.
 */
export const ATTESTATION_VIEWER = 'nitroEnclaves.attestationViewer';
export const ATTESTATION_VIEWER_CBOR = 'nitroEnclaves.attestationViewer.cbor';
export const ATTESTATION_PANEL = 'nitroEnclaves.attestationPanel';

export const SETTINGS = {
  imagesExclude: 'nitroEnclaves.images.exclude',
  buildBlobsPath: 'nitroEnclaves.build.blobsPath',
  nitroCliPath: 'nitroEnclaves.nitroCli.path',
  parentsSshHosts: 'nitroEnclaves.parents.sshHosts',
  parentsLocalParent: 'nitroEnclaves.parents.localParent',
  sshPath: 'nitroEnclaves.ssh.path',
  sshConfigFile: 'nitroEnclaves.ssh.configFile',
  sshConnectTimeoutSeconds: 'nitroEnclaves.ssh.connectTimeoutSeconds',
  kmsStartWithEmulator: 'nitroEnclaves.kms.startWithEmulator',
  kmsPort: 'nitroEnclaves.kms.port',
  kmsVsockPort: 'nitroEnclaves.kms.vsockPort',
  qemuBackend: 'nitroEnclaves.qemu.backend',
  qemuPath: 'nitroEnclaves.qemu.qemuPath',
  qemuVhostDeviceVsockPath: 'nitroEnclaves.qemu.vhostDeviceVsockPath',
  qemuCacheDir: 'nitroEnclaves.qemu.cacheDir',
} as const;

/** The settings the nitro-cli backend's options are built from: a change to one rebuilds its parents. */
export const NITRO_CLI_SETTINGS = [
  SETTINGS.nitroCliPath,
  SETTINGS.parentsSshHosts,
  SETTINGS.parentsLocalParent,
  SETTINGS.sshPath,
  SETTINGS.sshConfigFile,
  SETTINGS.sshConnectTimeoutSeconds,
] as const;

/** The settings the QEMU backend is made from: a change to one makes it again. */
export const QEMU_SETTINGS = [
  SETTINGS.qemuBackend,
  SETTINGS.qemuPath,
  SETTINGS.qemuVhostDeviceVsockPath,
  SETTINGS.qemuCacheDir,
] as const;

/**
 * What each setting names. `program`: an executable the extension runs; `path`: a file or folder it
 * reads and hands to a program or into an image (an ssh configuration, the kernel and init of every
 * build); `host`: a machine it connects to; `other`: nothing of these (globs, numbers, switches).
 * The compiler asks for a row per setting, so a new one cannot be left out.
 */
type SettingKind = 'program' | 'path' | 'host' | 'other';

export const SETTING_KINDS: Readonly<Record<(typeof SETTINGS)[keyof typeof SETTINGS], SettingKind>> = {
  [SETTINGS.imagesExclude]: 'other',
  [SETTINGS.buildBlobsPath]: 'path',
  [SETTINGS.nitroCliPath]: 'program',
  [SETTINGS.parentsSshHosts]: 'host',
  [SETTINGS.parentsLocalParent]: 'other',
  [SETTINGS.sshPath]: 'program',
  [SETTINGS.sshConfigFile]: 'path',
  [SETTINGS.sshConnectTimeoutSeconds]: 'other',
  [SETTINGS.kmsStartWithEmulator]: 'other',
  [SETTINGS.kmsPort]: 'other',
  [SETTINGS.kmsVsockPort]: 'other',
  [SETTINGS.qemuBackend]: 'other',
  [SETTINGS.qemuPath]: 'program',
  [SETTINGS.qemuVhostDeviceVsockPath]: 'program',
  // The cache holds the QEMU, vhost-device-vsock and kernel the backend runs when no path is set.
  [SETTINGS.qemuCacheDir]: 'path',
};

/**
 * Settings that name a program the extension runs, a path it reads or a host it connects to: in an
 * untrusted workspace VS Code reads them from user and machine settings only (package.json
 * `capabilities.untrustedWorkspaces.restrictedConfigurations`). Otherwise an untrusted folder
 * could swap the kernel and init of the images built in it, or the programs run for it.
 */
export const RESTRICTED_SETTINGS: readonly string[] = Object.entries(SETTING_KINDS)
  .filter(([, kind]) => kind !== 'other')
  .map(([name]) => name);

/** The task type of builds in tasks.json. */
export const TASK_TYPE = 'nitro-eif';

/** The task type that runs an enclave image in tasks.json (nitro-cli's `--config` JSON, plus `parent` and `app`). */
export const RUN_TASK_TYPE = 'nitro-enclave';

export const LOG_CHANNEL = 'Nitro Enclaves';

/**
 * Tree item context values: `<state><Noun>`, matched by anchored regexes in package.json menus
 * (for example `viewItem =~ /Image$/`).
 */
export const CONTEXT_VALUES = {
  /** e.g. `notStartedEmulatorParent`, `runningNitroCliParent`. */
  parent: (backend: string, state: string): string => `${camel(state)}${pascal(backend)}Parent`,
  /**
   * A parent whose backend cannot list it (an SSH host that does not answer, nitro-cli missing):
   * `unreachableNitroCliParent`. It offers Refresh and Run Doctor, nothing that needs the parent.
   */
  unreachableParent: (backend: string): string => `unreachable${pascal(backend)}Parent`,
  /** A parent's enclave pool (from its allocator configuration). */
  pool: 'enclavePool',
  /**
   * An enclave by its describe-enclaves State and Flags: `runningEnclave`, `debugEnclave` (running
   * in debug mode: it has a console), `terminatingEnclave`, `emptyEnclave`. An enclave whose NSM
   * the extension cannot reach (its backend lacks the parentNsm capability: a real enclave or a
   * QEMU one, where only the application inside asks its NSM) names its backend,
   * `runningNitroCliEnclave`, `debugQemuEnclave`, so that Get Attestation Document is not offered on it.
   */
  enclave: (state: string, debug: boolean, unreachableNsmOf?: string): string =>
    (state === 'RUNNING' && debug ? 'debug' : state.toLowerCase()) +
    `${unreachableNsmOf ? pascal(unreachableNsmOf) : ''}Enclave`,
  /** The Parent Instances message of a QEMU backend that lacks its tools: it offers Set Up QEMU Backend... */
  qemuSetup: 'qemuSetupNeeded',
  /** A PCR of a running enclave (from describe-enclaves' Measurements). */
  enclavePcr: 'enclavePcr',
  /** An image that was measured (or not yet): `eifImage`; one whose file is malformed: `brokenEifImage`. */
  image: 'eifImage',
  brokenImage: 'brokenEifImage',
  pcr: 'pcr',
  /** A vsock port a program listens on (emulated vsock). */
  vsockPort: 'vsockPort',
  /** A vsock-proxy the extension runs on an emulated parent. */
  proxy: 'vsockProxy',
  /** The local KMS under a parent: `runningLocalKms`, `stoppedLocalKms`. */
  kms: (running: boolean): string => (running ? 'runningLocalKms' : 'stoppedLocalKms'),
  /** A key of the local KMS. */
  kmsKey: 'localKmsKey',
  sectionGroup: 'eifSections',
  section: 'eifSection',
} as const;

function camel(kebab: string): string {
  return kebab.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

function pascal(kebab: string): string {
  const c = camel(kebab);
  return c.charAt(0).toUpperCase() + c.slice(1);
}
