import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { repoPath } from './repo';

/** The values an independent implementation computed for an EIF fixture (`<name>.expected.json`). */
export interface ExpectedEif {
  file: string;
  size: number;
  eif_crc32: string;
  section_offsets: number[];
  section_sizes: number[];
  section_types: number[];
  PCR0: string;
  PCR1: string;
  PCR2: string;
  PCR8?: string;
  payload_cbor_hex?: string;
  protected_hex?: string;
  sha256_file?: string;
}

export const EIF_FIXTURES = repoPath('test', 'fixtures', 'eif');

/** The expected values of a fixture, given its .eif path or name. */
export function expectedEif(file: string): ExpectedEif {
  const json = path.join(EIF_FIXTURES, path.basename(file).replace(/\.eif$/, '.expected.json'));
  return JSON.parse(readFileSync(json, 'utf8'));
}

/** Every fixture that has expected values. */
export function eifFixtureNames(): string[] {
  return readdirSync(EIF_FIXTURES)
    .filter((f) => f.endsWith('.expected.json'))
    .map((f) => f.replace(/\.expected\.json$/, '.eif'))
    .sort();
}
