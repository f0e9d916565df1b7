import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually } from './util';
import { hasEmulatedVsock } from '../../src/engine/platform/capabilities';
import { connectVsock } from '../../src/engine/node/vsock/endpoints';
import type { NitroEnclavesApi } from '../../src/extension/extension';
import { COMMANDS, EXTENSION_ID } from '../../src/extension/ids';
import type { ParentNode } from '../../src/extension/tree/parentsTree';

type ParentRoot = Extract<ParentNode, { kind: 'parent' }>;

/** The label and description of a node, as the view shows them. */
function shown(api: NitroEnclavesApi, node: ParentNode): { label: string; description: string } {
  const item = api.parents.getTreeItem(node);
  const label = typeof item.label === 'object' ? item.label.label : String(item.label);
  return { label, description: String(item.description ?? '') };
}

describe('The local KMS and vsock-proxies in the Parent Instances view (real VS Code extension host)', function () {
  this.timeout(180_000);
  let api: NitroEnclavesApi;
  let echo: net.Server;
  let echoPort: number;

  before(async () => {
    const extension = vscode.extensions.getExtension<NitroEnclavesApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoPort = (echo.address() as net.AddressInfo).port;
  });

  after(async () => {
    await vscode.commands.executeCommand(COMMANDS.kmsStop);
    for (const p of api.services.services.proxyViews())
      await vscode.commands.executeCommand(COMMANDS.vsockProxyStop, { parentId: p.parentId, localPort: p.localPort });
    await new Promise<void>((r) => echo.close(() => r()));
  });

  async function parent(): Promise<ParentRoot> {
    const roots = await api.parents.getChildren();
    const p = roots.find((r): r is ParentRoot => r.kind === 'parent' && r.parent.backend === 'emulator');
    assert.ok(p, 'the view shows an emulated parent');
    return p;
  }

  async function child(kind: ParentNode['kind'], match: (n: ParentNode) => boolean = () => true) {
    return (await api.parents.getChildren(await parent())).find((c) => c.kind === kind && match(c));
  }

  it('shows a stopped local KMS, starts it with a proxy on vsock port 8000, and lists its keys', async () => {
    const stopped = await eventually('the Local KMS node', () => child('kms'));
    assert.deepEqual(shown(api, stopped), { label: 'Local KMS', description: 'stopped' });
    assert.equal(api.parents.getTreeItem(stopped).contextValue, 'stoppedLocalKms');

    const url = await vscode.commands.executeCommand<string>(COMMANDS.kmsStart, { quiet: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const running = await eventually('the running Local KMS node', async () => {
      const n = await child('kms');
      return n && api.parents.getTreeItem(n).contextValue === 'runningLocalKms' ? n : undefined;
    });
    assert.match(shown(api, running).description, /^127\.0\.0\.1:\d+ · vsock port 8000 · 0 requests$/);
    const kmsProxy = await eventually('the KMS proxy node', () => child('proxy'));
    assert.match(shown(api, kmsProxy).label, new RegExp(`^vsock-proxy 8000 → 127\\.0\\.0\\.1:${url.split(':')[2]}$`));

    // A key made by any client shows under the KMS node, and Copy Key ARN copies its ARN.
    const r = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': 'TrentService.CreateKey',
        Authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDVSCODE/20261207/eu-west-1/kms/aws4_request, ' +
          'SignedHeaders=host, Signature=00',
      },
      body: JSON.stringify({ Description: 'made in the VS Code test' }),
    });
    assert.equal(r.status, 200);
    const arn = ((await r.json()) as { KeyMetadata: { Arn: string } }).KeyMetadata.Arn;
    const kmsNode = await eventually('the KMS node with one request', async () => {
      const n = await child('kms');
      return n && /· 1 requests?$/.test(shown(api, n).description) ? n : undefined;
    });
    const keys = await api.parents.getChildren(kmsNode);
    const key = keys.find((k) => k.kind === 'kmsKey' && k.key.arn === arn);
    assert.ok(key, `the key ${arn} is listed under the Local KMS`);
    assert.equal(shown(api, key).description, 'made in the VS Code test');
    await vscode.commands.executeCommand(COMMANDS.kmsCopyKeyArn, key);
    assert.equal(await vscode.env.clipboard.readText(), arn);

    await vscode.commands.executeCommand(COMMANDS.kmsStop);
    await eventually('the stopped Local KMS node and no KMS proxy', async () => {
      const n = await child('kms');
      return n && shown(api, n).description === 'stopped' && !(await child('proxy'));
    });
  });

  it('starts a vsock-proxy to an allowed endpoint, counts its bytes, refuses one not allowed, stops it', async () => {
    const p = await parent();
    const allowlist = path.join(os.tmpdir(), `allowlist-${process.pid}.yaml`);
    writeFileSync(allowlist, `allowlist:\n- {address: 127.0.0.1, port: ${echoPort}}\n`);
    try {
      const refused = await vscode.commands.executeCommand(COMMANDS.vsockProxyStart, {
        parentId: p.parent.id,
        localPort: 5005,
        remoteAddr: '127.0.0.1',
        remotePort: echoPort + 1 > 65535 ? echoPort - 1 : echoPort + 1,
        allowlistPath: allowlist,
      });
      assert.equal(refused, undefined, 'a refused start is shown as an error, not a proxy');
      assert.equal(await child('proxy'), undefined);

      const view = await vscode.commands.executeCommand<{ localPort: number }>(COMMANDS.vsockProxyStart, {
        parentId: p.parent.id,
        localPort: 5005,
        remoteAddr: '127.0.0.1',
        remotePort: echoPort,
        allowlistPath: allowlist,
      });
      assert.equal(view?.localPort, 5005);
      const backend = api.parentInstances.backends.capable(hasEmulatedVsock)[0];
      assert.ok(backend);
      const socket = await connectVsock(backend.vsockFolder(p.parent.id), { cid: 3, port: 5005 });
      const echoed = await new Promise<string>((resolve) => {
        let got = '';
        socket.on('data', (d) => {
          got += d.toString();
          if (got.length >= 5) resolve(got);
        });
        socket.write('hello');
      });
      assert.equal(echoed, 'hello');
      socket.end();
      const proxyNode = await eventually('the proxy node to count 5 bytes each way', async () => {
        const n = await child('proxy');
        return n && /1 connection · ↑ 5 B ↓ 5 B$/.test(shown(api, n).description) ? n : undefined;
      });
      assert.equal(shown(api, proxyNode).label, `vsock-proxy 5005 → 127.0.0.1:${echoPort}`);
      assert.equal(api.parents.getTreeItem(proxyNode).contextValue, 'vsockProxy');

      assert.equal(await vscode.commands.executeCommand(COMMANDS.vsockProxyStop, proxyNode), true);
      await eventually('the proxy node to go', async () => !(await child('proxy')));
    } finally {
      rmSync(allowlist, { force: true });
    }
  });

  it('shows a port the parent listens on outside the extension', async () => {
    const p = await parent();
    const backend = api.parentInstances.backends.capable(hasEmulatedVsock)[0];
    assert.ok(backend);
    const { listenVsock } = await import('../../src/engine/node/vsock/endpoints');
    const server = await listenVsock(backend.vsockFolder(p.parent.id), { cid: 3, port: 7070 }, (s) => s.end());
    try {
      const port = await eventually('the vsock port 7070 node', () =>
        child('vsockPort', (n) => n.kind === 'vsockPort' && n.port.port === 7070),
      );
      assert.deepEqual(shown(api, port), { label: 'vsock port 7070', description: 'listening on the parent (CID 3)' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    await eventually('the vsock port 7070 node to go', async () => !(await child('vsockPort')));
  });
});
