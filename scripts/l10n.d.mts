export const BUNDLE: string;
export function exporterText(source: string): string;
export function extensionSources(root: string): string[];
export function bundleText(root: string): Promise<string>;
