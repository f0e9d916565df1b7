// npm run screenshots: after the UI tier (npm run test:ui), copies the README's screenshots from
// test-results/ into docs/screenshots/, where they are committed. Only files whose bytes changed are
// copied, and each is named, so a commit shows which views changed.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The UI tier's screenshots the README shows, in its order. */
export const README_SCREENSHOTS = [
  'parents-running-enclave.png',
  'parents-kms.png',
  'eif-viewer.png',
  'attestation-viewer.png',
  'attestation-kms.png',
  'walkthrough.png',
];

export const SCREENSHOTS_DIR = 'docs/screenshots';

/** Copies the changed screenshots from `from` (test-results) to `to`; returns the names copied.
 * Throws when one was not taken. */
export function updateScreenshots(from, to) {
  mkdirSync(to, { recursive: true });
  const missing = README_SCREENSHOTS.filter((n) => !existsSync(path.join(from, n)));
  if (missing.length > 0) throw new Error(`not in ${from}: ${missing.join(', ')} (run npm run test:ui first)`);
  const copied = [];
  for (const name of README_SCREENSHOTS) {
    const source = path.join(from, name);
    const target = path.join(to, name);
    if (existsSync(target) && readFileSync(target).equals(readFileSync(source))) continue;
    copyFileSync(source, target);
    copied.push(name);
  }
  return copied;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  try {
    const copied = updateScreenshots(path.join(root, 'test-results'), path.join(root, SCREENSHOTS_DIR));
    console.log(
      copied.length ? `updated ${copied.map((n) => `${SCREENSHOTS_DIR}/${n}`).join(', ')}` : 'no screenshot changed',
    );
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
