// The Getting Started walkthrough of package.json: six steps in the order, each with a
// command button (a command: link to a command the extension contributes or VS Code has), a picture
// in media/walkthrough/, and completion events that tick it.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMAND_TABLE, VIEWS } from '../../../../src/extension/ids';
import { PKG, ROOT } from '../../repo';

interface Step {
  id: string;
  title: string;
  description: string;
  media: { svg?: string; image?: string; altText: string };
  completionEvents: string[];
}

const BUILT_IN = new Set(['workbench.action.files.openFolder', 'workbench.action.tasks.build']);
const ours = new Set<string>(Object.values(COMMAND_TABLE).map((c) => c.id));
const viewFocus = new Set(Object.values(VIEWS).map((v) => `${v}.focus`));

describe('(unit) the Getting Started walkthrough', () => {
  const walkthroughs = PKG.contributes.walkthroughs as { id: string; title: string; steps: Step[] }[];

  it('has six steps, from opening a folder to comparing the attestation with the image', () => {
    assert.equal(walkthroughs.length, 1);
    assert.equal(walkthroughs[0]?.title, 'Getting Started with Nitro Enclaves');
    assert.deepEqual(
      walkthroughs[0]?.steps.map((s) => s.title),
      [
        'Open the demo or a folder',
        'Build an image',
        'See its PCRs',
        'Run it on the emulator',
        'Get an attestation document',
        'Compare it with the image',
      ],
    );
  });

  for (const step of (PKG.contributes.walkthroughs as { steps: Step[] }[])[0]?.steps ?? []) {
    it(`step "${step.title}": a command button that exists, a picture of the project, completion events`, () => {
      const links = [...step.description.matchAll(/\]\(command:([\w.]+)\)/g)].map((m) => m[1] as string);
      assert.ok(links.length > 0, 'a command button');
      for (const id of links) assert.ok(ours.has(id) || BUILT_IN.has(id) || viewFocus.has(id), id);
      const picture = step.media.svg ?? step.media.image;
      assert.ok(picture?.startsWith('media/walkthrough/'), String(picture));
      const file = path.join(ROOT, picture as string);
      assert.ok(existsSync(file), String(picture));
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^<svg [^>]*role="img" aria-label="[^"]+"/);
      // VS Code draws an svg step picture in a webview whose CSP allows only its own nonce'd style:
      // a <style> element or style attribute is dropped, and the shapes fall back to black.
      // Theme colours go in presentation attributes (fill="var(--vscode-...)").
      assert.doesNotMatch(text, /<style|\sstyle=|\sclass=/, `${file} styles with CSS the webview refuses`);
      assert.match(text, /fill="var\(--vscode-editor-background/);
      assert.ok(step.media.altText.length > 10);
      assert.ok(step.completionEvents.length > 0);
      for (const e of step.completionEvents) {
        const m = /^(onCommand|onView|onContext):(.+)$/.exec(e);
        assert.ok(m, e);
        if (m[1] === 'onCommand')
          assert.ok(ours.has(m[2] as string) || BUILT_IN.has(m[2] as string) || viewFocus.has(m[2] as string), e);
        if (m[1] === 'onView') assert.ok((Object.values(VIEWS) as string[]).includes(m[2] as string), e);
      }
      // A step's own command completes it.
      assert.ok(links.some((id) => step.completionEvents.includes(`onCommand:${id}`)));
    });
  }
});
