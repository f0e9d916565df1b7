// Draws the Marketplace icon, media/nitro-enclaves.png (128x128), from the activity bar icon
// media/nitro-enclaves.svg: its strokes in white on a rounded square of the gallery banner's color,
// rendered by the Chromium the VS Code test tiers drive (playwright-core). Run it after changing the
// SVG or the banner color, and commit the PNG:  node scripts/icon.mjs
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, findChromium } from './vscode/codeServer.mjs';

const SIZE = 128;
const svgPath = path.join(ROOT, 'media/nitro-enclaves.svg');
const pngPath = path.join(ROOT, 'media/nitro-enclaves.png');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const background = pkg.galleryBanner?.color ?? '#232F3E';

// The 24x24 line icon, scaled up: thinner strokes read better at 128 px.
const svg = readFileSync(svgPath, 'utf8')
  .replace(/width="24" height="24"/, `width="${SIZE * 0.78}" height="${SIZE * 0.78}"`)
  .replace(/stroke-width="1.5"/, 'stroke-width="1.25"');

const html = `<!doctype html><html><head><style>
  html, body { margin: 0; background: transparent; }
  #icon { width: ${SIZE}px; height: ${SIZE}px; border-radius: ${SIZE * 0.18}px; background: ${background};
          color: #ffffff; display: flex; align-items: center; justify-content: center; }
</style></head><body><div id="icon">${svg}</div></body></html>`;

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: SIZE, height: SIZE }, deviceScaleFactor: 1 });
  await page.setContent(html);
  const png = await page.locator('#icon').screenshot({ omitBackground: true, type: 'png' });
  if (png.readUInt32BE(16) !== SIZE || png.readUInt32BE(20) !== SIZE)
    throw new Error(`the screenshot is ${png.readUInt32BE(16)}x${png.readUInt32BE(20)}, not ${SIZE}x${SIZE}`);
  // Written beside and renamed: never a half-written icon.
  writeFileSync(`${pngPath}.tmp`, png);
  renameSync(`${pngPath}.tmp`, pngPath);
  console.log(`wrote ${path.relative(ROOT, pngPath)} (${png.length} bytes)`);
} finally {
  await browser.close();
}
