// Node adapters of the engine: the parts that need node:fs, node:crypto and friends.
export { FileByteSource } from './fileByteSource';
export { nodeHashes } from './nodeHashes';
export { writeAtomically, type PositionalWrite } from './atomicFile';
export { readPublicKeyFile, publicKeySpki, PublicKeyFileError, MAX_PUBLIC_KEY_FILE_BYTES } from './publicKeyFile';
export {
  inspectEif,
  describeEif,
  readEifHeader,
  nodeEifPorts,
  type EifInspection,
  type InspectOptions,
  type SignatureInspection,
} from './eifFile';
export {
  writeEif,
  signatureSectionFor,
  readPem,
  type SectionInput,
  type SigningInput,
  type WriteEifOptions,
  type WriteEifResult,
} from './eifWriter';
export { signEifFile, type SignEifOptions } from './signEif';
export { SigningError, loadSigningKey, signPcr0, verifyCose, type CoseCheck } from './cose';
export { hashRangesInWorker, OFFLOAD_THRESHOLD } from './pcr2Worker';
export { nodeCrypto } from './nodeCrypto';
export { nodeAttestationCrypto } from './attestationCrypto';
export { openImage } from './oci';
export { SpoolStore } from './spoolStore';
export { locateBlobs, kernelName, BlobsError, DEFAULT_BLOBS_DIR, type BlobFiles } from './blobs';
export {
  buildEnclave,
  BuildError,
  type BuildOptions,
  type BuildResult,
  type BuildSource,
  type ImageSpec,
  type RootfsSpec,
} from './buildEnclave';
export { buildProgressText, type BuildProgress, type BuildStage } from './buildProgress';
/**
 * The image-build pipeline (OCI, tar, cpio, the EIF writer), loaded on first use: the extension's
 * bundle requires it from its own sibling bundle then (esbuild.config.mjs), not at activation.
 */
export const loadImageBuild = (): Promise<typeof import('./imageBuild')> => import('./imageBuild');
export { readRootfs, RootfsError, type RootfsTree } from './rootfs';
export { writeScaffold, ScaffoldError } from './scaffold';
export {
  compareEifFiles,
  checkReproducibility,
  type EifDifference,
  type ReproducibilityReport,
} from './reproducibility';
export { EmulatorBackend, bootTimeoutMs, defaultHostScript, type EmulatorBackendOptions } from './emulator/backend';
export {
  BackendRegistry,
  createBackendRegistry,
  createQemuBackend,
  qemuBackendWanted,
  type BackendListing,
  type DefaultBackendsOptions,
  type RegisterOptions,
  type UnavailableBackend,
} from './registry';
export { emulatorStateDir, loadParents, addParent } from './emulator/state';
export {
  DevelopmentCa,
  createAttestationDocument,
  developmentAttestPort,
  exportDevelopmentRoot,
} from './devAttestation';
export {
  RESIGN_LABEL,
  ResignError,
  resignUnsignedDocument,
  resignWithDevelopmentCa,
  unsignedQemuDocument,
} from './resignAttestation';
export { ENCLAVE_HOST_SUBCOMMAND } from './emulator/backend';
export { runEnclaveHost } from './emulator/host';
export { MAX_KEPT_CONSOLE_BYTES, readKeptConsole, type KeptConsole } from './keptConsole';
export { type BlobsFolderStatus, blobsFolderStatus } from './blobs';
export { runLocalDoctor, systemViewAt, type LocalDoctorOptions } from './doctorSystem';
export { runRemoteDoctor, snapshotOverSsh, RemoteDoctorError, type RemoteDoctorOptions } from './doctorRemote';
/**
 * The doctor (its checks and report, on this machine and over SSH), loaded when a doctor command runs:
 * the extension's bundle requires it from its own sibling bundle then (esbuild.config.mjs).
 */
export const loadDoctor = (): Promise<typeof import('./doctors')> => import('./doctors');
export { QEMU_ENV, qemuCacheDir, qemuCacheLayout, type QemuCacheLayout } from './qemu/layout';
export { buildGuestPrograms, GUEST_SOURCES, QEMU_BLOBS_CMDLINE } from './qemu/guest';
export { QemuBackend, QemuUnavailableError, qemuStateDir } from './qemu/backend';
export {
  qemuMissing,
  resolveQemuMachine,
  type NitroMachineChecker,
  type QemuMissing,
  type QemuReadiness,
  type QemuSettings,
} from './qemu/resolve';
export {
  runQemuSetup,
  outdatedSteps,
  readSetupManifest,
  defaultSetupJobs,
  QemuSetupError,
  SetupCommandError,
  type QemuSetupOptions,
  type QemuSetupResult,
  type SetupManifest,
  type SetupStepId,
  type SetupStepReport,
} from './qemu/setup';
export {
  findQemuTools,
  checkNitroMachine,
  probeKvm,
  acceleratorText,
  ProbeError,
  type AcceleratorProbe,
  type NitroMachineCheck,
  type QemuTools,
  type QemuToolSettings,
  type ToolLookup,
} from './qemu/tools';
export {
  DEFAULT_SSH_OPTIONS,
  NITRO_ENCLAVES_DEVICE,
  type NitroCliOptions,
  type NitroCliTarget,
  type SshOptions,
} from './nitrocli/options';
export {
  NitroCliBackend,
  createNitroCliBackends,
  parentIdOf,
  REMOTE_EIF_FOLDER,
  type NitroCliBackendOptions,
} from './nitrocli/backend';
export { RunnerError, SshUnreachableError, sshBaseArgs, sshHostProblem, scpPathFor } from './nitrocli/runner';
export {
  HEARTBEAT_BYTE,
  HEARTBEAT_PORT,
  KMS_PROXY_PORT,
  VsockInUseError,
  VsockRefusedError,
  connectVsock,
  endpointPath,
  listEndpointFiles,
  listenVsock,
  liveEndpoints,
  removeEndpointFilesOf,
  parseVsockAddress,
  parseVsockPort,
  vsockDirOf,
  type VsockAddress,
} from './vsock/endpoints';
export {
  startKmsServer,
  requestLine as kmsRequestLine,
  DEFAULT_KMS_ACCOUNT,
  type KmsServer,
  type KmsServerOptions,
  type KmsRequestRecord,
  type KmsKeyInfo,
  type KmsCounters,
} from './kms/server';
export { KmsKeyStore, KmsStoreError } from './kms/keyStore';
/**
 * The local KMS server's module, loaded on first use: the extension's bundle requires it from its own
 * sibling bundle then (esbuild.config.mjs), rather than compiling it and asn1js at activation.
 */
export const loadKmsServer = (): Promise<typeof import('./kms/server')> => import('./kms/server');
export {
  DEFAULT_WORKERS,
  VsockProxyRefusedError,
  readAllowlistFile,
  startVsockProxy,
  systemResolver,
  type VsockProxy,
  type VsockProxyOptions,
  type VsockProxyStats,
} from './vsockproxy/proxy';
export { vsockPortsInUse, type VsockPortInUse } from './vsock/ports';
