import type { Plugin } from 'esbuild';

export const PURE_PACKAGES: readonly string[];
export const AREA_IMPORTS: Readonly<Record<string, readonly string[]>>;
export function areaOf(root: string, file: string): string | undefined;
export function checkImport(root: string, importer: string, spec: string): string | undefined;
export function importsOf(source: string): string[];
export function layeringPlugin(root: string): Plugin;
