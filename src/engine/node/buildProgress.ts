// A build's progress events and their one-line text: apart from the pipeline (buildEnclave.ts), so that
// the extension can show progress without loading the pipeline before the first build.
export type BuildStage = 'resolving' | 'layers' | 'folder' | 'ramdisk' | 'measuring' | 'writing';

export interface BuildProgress {
  readonly stage: BuildStage;
  /** Bytes done in this stage (compressed layer bytes for 'layers', archive bytes for 'ramdisk'). */
  readonly done: number;
  /** Bytes this stage handles in all, when known. */
  readonly total?: number;
  /** e.g. "layer 2 of 3". */
  readonly detail?: string;
}

const STAGE_TEXT: Record<BuildStage, string> = {
  resolving: 'Reading the image',
  layers: 'Flattening layers',
  folder: 'Reading the root file system folder',
  ramdisk: 'Writing the customer ramdisk',
  measuring: 'Measuring',
  writing: 'Writing the enclave image',
};

/** One line for a progress event, e.g. `Flattening layers (layer 2 of 3): 45%`, for the CLI and the editor alike. */
export function buildProgressText(p: BuildProgress): string {
  const amount = p.total
    ? `${Math.floor((p.done / Math.max(1, p.total)) * 100)}%`
    : p.done > 0
      ? `${(p.done / 1048576).toFixed(1)} MiB`
      : '';
  return `${STAGE_TEXT[p.stage]}${p.detail ? ` (${p.detail})` : ''}${amount ? `: ${amount}` : ''}`;
}
