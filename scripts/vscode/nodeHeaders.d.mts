export function headerVersion(text: string): { major: number; abi: number } | undefined;
export function findNodeHeaders(options?: {
  execPath?: string;
  version?: string;
  abi?: string | number;
  readFile?: (file: string) => string | undefined;
}): { nodedir: string; error?: undefined } | { error: string; nodedir?: undefined };
