// Every identifier the extension shares with package.json, in one place. A unit test checks that
// this table and the manifest agree both ways.

export const EXTENSION_ID = 'nitroenclaves.nitro-enclaves';

export const VIEW_CONTAINER = 'nitroEnclaves';

export const VIEWS = {
  parents: 'nitroEnclaves.views.parents',
  images: 'nitroEnclaves.views.images',
} as const;

export const COMMANDS = {
  parentsRefresh: 'nitroEnclaves.parents.refresh',
  imagesRefresh: 'nitroEnclaves.images.refresh',
  imageDescribe: 'nitroEnclaves.image.describe',
  imageComputePcr: 'nitroEnclaves.image.computePcr',
  imageCopyPcr: 'nitroEnclaves.image.copyPcr',
  imageCopyAllPcrs: 'nitroEnclaves.image.copyAllPcrs',
  imageReveal: 'nitroEnclaves.image.reveal',
  imageBuild: 'nitroEnclaves.image.build',
  imageCheckReproducibility: 'nitroEnclaves.image.checkReproducibility',
  attestationOpen: 'nitroEnclaves.attestation.open',
  attestationOpenFromClipboard: 'nitroEnclaves.attestation.openFromClipboard',
  logShow: 'nitroEnclaves.log.show',
  enclaveRun: 'nitroEnclaves.enclave.run',
  enclaveTerminate: 'nitroEnclaves.enclave.terminate',
  enclaveConsole: 'nitroEnclaves.enclave.console',
  enclaveDescribe: 'nitroEnclaves.enclave.describe',
  enclaveAttest: 'nitroEnclaves.enclave.attest',
  enclaveCopyId: 'nitroEnclaves.enclave.copyId',
  parentEditAllocator: 'nitroEnclaves.parent.editAllocator',
  parentAdd: 'nitroEnclaves.parent.add',
  parentSelect: 'nitroEnclaves.parent.select',
} as const;

/** The read-only custom editor for .eif files. */
export const EIF_VIEWER = 'nitroEnclaves.eifViewer';

/** The attestation document viewer: a custom editor (default for *.attestation, *.att.cbor; "Open With" for *.cbor) and a webview panel. */
export const ATTESTATION_VIEWER = 'nitroEnclaves.attestationViewer';
export const ATTESTATION_VIEWER_CBOR = 'nitroEnclaves.attestationViewer.cbor';
export const ATTESTATION_PANEL = 'nitroEnclaves.attestationPanel';

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];

/** Commands that act on a tree node or Explorer file and have no picker: hidden from the palette. */
export const NODE_ONLY_COMMANDS: readonly CommandId[] = [COMMANDS.imageCopyPcr, COMMANDS.imageCopyAllPcrs, COMMANDS.imageReveal, COMMANDS.enclaveCopyId];

export const SETTINGS = {
  imagesExclude: 'nitroEnclaves.images.exclude',
  buildBlobsPath: 'nitroEnclaves.build.blobsPath',
} as const;

/** The task type of builds in tasks.json. */
export const TASK_TYPE = 'nitro-eif';

export const LOG_CHANNEL = 'Nitro Enclaves';

/**
 * Tree item context values: `<state><Noun>`, matched by anchored regexes in package.json menus
 * (for example `viewItem =~ /Image$/`).
 */
export const CONTEXT_VALUES = {
  /** e.g. `notStartedEmulatorParent`, `runningNitroCliParent`. */
  parent: (backend: string, state: string): string => `${camel(state)}${pascal(backend)}Parent`,
  /** A parent's enclave pool (from its allocator configuration). */
  pool: 'enclavePool',
  /**
   * An enclave by its describe-enclaves State and Flags: `runningEnclave`, `debugEnclave` (running
   * in debug mode: it has a console), `terminatingEnclave`, `emptyEnclave`.
   */
  enclave: (state: string, debug: boolean): string => (state === 'RUNNING' && debug ? 'debugEnclave' : `${state.toLowerCase()}Enclave`),
  /** A PCR of a running enclave (from describe-enclaves' Measurements). */
  enclavePcr: 'enclavePcr',
  /** An image that was measured (or not yet): `eifImage`; one whose file is malformed: `brokenEifImage`. */
  image: 'eifImage',
  brokenImage: 'brokenEifImage',
  pcr: 'pcr',
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
