// The engine's public surface. The faces (the CLI, the extension, the webviews) import the engine only
// through this file and its Node adapters only through src/engine/node/index.ts: scripts/layering.mjs
// fails the build and the tests on any deeper import.
export { VERSION } from './version';
export type { DisposableLike, EventLike, CancellationLike } from './platform/lifecycle';
export { Emitter, CancelledError, throwIfCancelled } from './platform/lifecycle';
export type { ByteSource } from './platform/byteSource';
export { ByteRangeError, MemoryByteSource, checkRange } from './platform/byteSource';
export { ConcatSource, sliceOf, type Piece } from './platform/concatSource';
export {
  applicationOf,
  commandLineProblem,
  parseCommandLine,
  type CommandLine,
  type ParsedCommandLine,
} from './platform/commandLine';
export * from './eif/defs';
export { EifFormatError, type EifErrorCode, type EifProblem, type Severity } from './eif/errors';
export { readLayout, decodeHeader, encodeHeader, type EifHeader, type EifLayout, type EifSection } from './eif/layout';
export {
  planMeasurement,
  runPlan,
  pcrOfSource,
  DEFAULT_CHUNK,
  type ByteRange,
  type MeasurementPlan,
  type MeasureResult,
  type PcrValues,
} from './eif/measure';
export {
  parseMetadata,
  encodeMetadata,
  describeMetadata,
  MetadataError,
  type EifMetadata,
  type BuildMetadata,
} from './eif/metadata';
export {
  COSE_ALGORITHMS,
  CoseFormatError,
  algorithmForCurve,
  coseAlgorithmName,
  decodeSign1,
  encodeCoseSign1,
  protectedHeader,
  sigStructure,
  signCoseSign1,
  verifyCoseSign1,
  type CoseAlgorithm,
  type CoseFault,
  type CosePart,
  type CoseSign1,
  type DecodeSign1Options,
} from './cose/sign1';
export type { CryptoPort, EcSigningKey, EcdsaHash } from './cose/port';
export {
  decodeSignatureSection,
  decodeCoseSign1,
  encodeSignatureSection,
  pcr0Payload,
  payloadMatchesPcr0,
  readSigningKey,
  signPcr0Statement,
  checkCoseSignature,
  SignatureFormatError,
  SigningError,
  type CoseCheck,
  type EifSigningKey,
  type SignatureEntry,
} from './eif/signature';
export {
  inspectEifSource,
  type EifInspection,
  type EifPorts,
  type InspectOptions,
  type SignatureInspection,
} from './eif/inspect';
export {
  describeJson,
  measurementsJson,
  signingCertificateJson,
  formatJson,
  type DescribeEifJson,
  type MeasurementsJson,
  type SigningCertificateJson,
} from './eif/describe';
export {
  parseCertificate,
  opensslTime,
  rustDebugEscape,
  isValidAt,
  CertificateError,
  type CertificateInfo,
  type NameAttribute,
} from './x509/certificate';
export { toHex, fromHex, toColonHex, equalBytes, concatBytes, utf8, fromUtf8 } from './util/bytes';
export { crc32 } from './util/crc32';
export {
  extendFromZero,
  pcrOfBytes,
  type HashPort,
  type IncrementalHash,
  type Crc32Accumulator,
} from './util/hashPort';
export { pemBlocks, firstCertificateDer } from './util/pem';
export {
  readDocumentInput,
  decodeAttestation,
  decodeEnvelope,
  decodePayload,
  AttestationFormatError,
  MAX_DOCUMENT_BYTES,
  type AttestationDocument,
  type DecodedAttestation,
  type CoseEnvelope,
  type FieldProblem,
  type InputEncoding,
  type OptionalBytes,
} from './attestation/document';
export {
  verifyAttestation,
  LinkCache,
  type AttestationCrypto,
  type Check,
  type CheckCode,
  type CheckStatus,
  type ChainEntry,
  type PcrComparison,
  type TrustedRoot,
  type UnsignedInfo,
  type Verdict,
  type VerifyOptions,
  type VerifyReport,
  unsignedSentence,
} from './attestation/verify';
export {
  QEMU_NSM_SOURCE,
  partialMarkersReason,
  unsignedMarkersOf,
  type UnsignedMarker,
  type UnsignedMarkers,
} from './attestation/unsigned';
export { AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from './attestation/roots';
export { pcrMeaning, pcrIsReserved, expectedPcrsOf } from './attestation/pcrs';
export { scanCbor, CborScanError } from './util/cborScan';
export {
  nameToString,
  nameToRfc4514,
  KEY_USAGE_BITS,
  type BasicConstraints,
  type KeyUsage,
  type KeyUsageName,
} from './x509/certificate';
export { decodedToJson, reportToJson } from './attestation/json';
export { CpioWriter, bootstrapRamdisk, CpioFormatError } from './ramdisk/cpio';
export { readTar, confinePath, linkEscapes, PathGuard, TarFormatError } from './oci/tar';
export {
  ImageSourceError,
  OCI_ARCH,
  type Compression,
  type ImageConfig,
  type ImageSourceErrorCode,
  type ImageSourceKind,
  type LayerBlob,
  type Platform,
  type ResolvedImage,
} from './oci/model';
export {
  ImageTree,
  FlattenError,
  type ContentRef,
  type ContentStore,
  type FsEntry,
  type FsEntryType,
  type LayerStats,
} from './oci/flatten';
export { commandAndEnv, writeCustomerRamdisk, CustomerRamdiskError } from './ramdisk/customer';
export {
  BuildInputError,
  buildMetadata,
  buildTimeOf,
  defaultImageName,
  dockerInfo,
  formatBuildTime,
  kernelConfigInfo,
  parseBuildTime,
  parseCustomMetadata,
  sortKeysDeep,
  splitImageReference,
  splitArchiveReference,
  imageReferenceOf,
  MAX_CUSTOM_METADATA,
  type BuildTime,
} from './imagebuild/buildInfo';
export {
  HELLO_LINE,
  SCAFFOLD_TEMPLATES,
  helloProgram,
  projectNameProblem,
  scaffoldBuild,
  scaffoldFiles,
  type ScaffoldFile,
  type ScaffoldOptions,
  type ScaffoldTemplate,
} from './imagebuild/scaffold';
export {
  BackendError,
  type BackendKind,
  type ConsoleStream,
  type DescribeEnclaveJson,
  type EnclaveBackend,
  type EnclaveOperations,
  type EnclaveState,
  type ParentInfo,
  type RunEnclaveJson,
  type RunEnclaveRequest,
  type TerminateEnclaveJson,
} from './platform/backend';
export {
  CAPABILITIES,
  answersNsmFromParent,
  attachesApplications,
  canAddParents,
  canRepairState,
  hasDevelopmentRoots,
  hasEmulatedVsock,
  type ApplicationAttachment,
  type EmulatedVsock,
  type VsockPortInUse,
  type CapabilityName,
  type DevelopmentRoot,
  type DevelopmentRoots,
  type ParentCreation,
  type ParentSideNsm,
  type StateRepair,
  type StateRepairReport,
} from './platform/capabilities';
export {
  parseAllocatorYaml,
  validateAllocator,
  allocatorYamlText,
  type AllocatorDiagnostic,
  type InstanceTopology,
} from './emulator/allocator';
export {
  planRunEnclave,
  enclaveIdFor,
  parentIdFor,
  FIRST_AUTO_CID,
  cidFieldProblem,
  cpuCountFieldProblem,
  memoryFieldProblem,
  problemText,
  runRequestProblem,
  type FieldProblem as RunFieldProblem,
} from './emulator/rules';
export {
  encodeRequest as encodeNsmRequest,
  decodeRequest as decodeNsmRequest,
  encodeResponse as encodeNsmResponse,
  decodeResponse as decodeNsmResponse,
  requestFromJson as nsmRequestFromJson,
  responseToJson as nsmResponseToJson,
  NsmProtocolError,
  type NsmRequest,
  type NsmResponse,
} from './nsm/protocol';
export {
  NSM_MAX_ATTESTATION_FIELD_BYTES,
  NsmDevice,
  pcrOfText,
  type AttestPort,
  type AttestationFields,
} from './nsm/device';
export { ATTESTATION_KIND_LABELS, timestampDate } from './attestation/document';
export { type VerifyHint } from './attestation/verify';
export { certificatesFromFile } from './util/pem';
export {
  PARENT_ID_PATTERN,
  defaultEnclaveName,
  memoryRequirement,
  parseMemoryArgument,
  parseUnsignedArgument,
  uniqueEnclaveName,
} from './emulator/rules';
export { explainError, explainedErrorCodes, errorCodeNumber, type ErrorExplanation } from './nitrocli/errorCodes';
export {
  runDoctor,
  doctorMarkdown,
  parseSysCpuList,
  type DoctorFinding,
  type DoctorInput,
  type FindingStatus,
  type SystemStat,
  type SystemView,
} from './doctor/doctor';
export {
  parseSnapshot,
  snapshotScript,
  snapshotStdin,
  SnapshotError,
  MAX_SNAPSHOT_BYTES,
  type Snapshot,
} from './doctor/snapshot';
export {
  NitroCliOutputError,
  nitroCliFailure,
  parseDescribeEnclavesOutput,
  parseRunEnclaveOutput,
  parseTerminateEnclaveOutput,
  type CommandEnd,
} from './nitrocli/output';
export {
  parentFactsScript,
  parseParentFacts,
  parseCpuList,
  ParentFactsError,
  type ParentFacts,
} from './nitrocli/parentFacts';
export { shellQuote, shellCommand } from './nitrocli/shell';
export { runConfigRequest, type RunConfig, type RunConfigJson } from './nitrocli/runConfig';
export {
  keyPolicyFor,
  KeyPolicyInputError,
  ACCOUNT_PLACEHOLDER,
  ADMIN_ACTIONS,
  type KeyPolicyRequest,
  type PolicyMeasurements,
} from './kms/policy';
export { lintKeyPolicy, type KeyPolicyFinding, type KeyPolicyRule } from './kms/lint';
export { evaluateKeyPolicy, EVALUATION_SCOPE, type Evaluation, type EvaluationRequest } from './kms/evaluate';
export {
  parsePolicyJson,
  pathText,
  PolicyJsonError,
  MAX_POLICY_TEXT,
  type ParsedPolicyJson,
  type TextPosition,
} from './kms/policyJson';
export {
  KMS_OPERATIONS,
  KMS_CONTENT_TYPE,
  KMS_MAX_BODY_BYTES,
  KmsError,
  callerOf,
  operationOfTarget,
  validateRequest as validateKmsRequest,
  type KmsOperation,
} from './kms/protocol';
export { RECIPIENT_OPERATIONS, DEFAULT_OPERATIONS, IMAGE_SHA384_KEY, pcrKey } from './kms/keys';
export {
  DEFAULT_ALLOWLIST_PATH,
  MAX_ALLOWLIST_BYTES,
  checkAllowlist,
  formatVerdict,
  ipKey,
  ipVersionOf,
  parseAllowlist,
  resolveFor,
  type AllowlistCheck,
  type AllowlistDiagnostic,
  type AllowlistEntry,
  type AllowlistVerdict,
  type HostResolver,
  type IpFamily,
  type ParsedAllowlist,
  type TriedEntry,
} from './vsockproxy/allowlist';
