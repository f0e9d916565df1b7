// The Parent Instances tree's nodes for what talks over an emulated parent's vsock: the vsock ports
// listened on (the parent's and each enclave's), the vsock-proxies, and the local KMS with its keys.
import * as vscode from 'vscode';
import type { ParentInfo, VsockPortInUse } from '../../engine';
import type { KmsKeyInfo } from '../../engine/node';
import { CONTEXT_VALUES } from '../ids';
import type { KmsView, ProxyView } from '../services/localServices';

export type ServiceNode =
  | {
      readonly kind: 'vsockPort';
      readonly parent: ParentInfo;
      readonly port: VsockPortInUse;
      /** What listens, when it is one of the extension's proxies. */
      readonly proxy?: boolean;
    }
  | { readonly kind: 'proxy'; readonly parent: ParentInfo; readonly proxy: ProxyView }
  | { readonly kind: 'kms'; readonly parent: ParentInfo; readonly kms: KmsView | undefined }
  | { readonly kind: 'kmsKey'; readonly parent: ParentInfo; readonly key: KmsKeyInfo };

/** `1.5 KiB`: a byte count for a description. */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `listening · 1 open · 12 total · ↑ 1.5 KiB ↓ 300 B`. */
export function proxyText(p: ProxyView): string {
  const s = p.stats;
  const parts = [s.state === 'listening' ? 'listening' : 'stopped'];
  if (s.open > 0) parts.push(`${s.open} open`);
  if (s.waiting > 0) parts.push(`${s.waiting} waiting`);
  parts.push(`${s.total} connection${s.total === 1 ? '' : 's'}`);
  parts.push(`↑ ${bytesText(s.bytesToRemote)} ↓ ${bytesText(s.bytesFromRemote)}`);
  return parts.join(' · ');
}

/** Builds the tree item of a service node. */
export function serviceTreeItem(node: ServiceNode): vscode.TreeItem {
  switch (node.kind) {
    case 'vsockPort': {
      const { cid, port, owner } = node.port;
      const item = new vscode.TreeItem(vscode.l10n.t('vsock port {0}', port), vscode.TreeItemCollapsibleState.None);
      item.id = `vsock:${node.parent.id}:${cid}:${port}`;
      item.description =
        owner === 'parent'
          ? vscode.l10n.t('listening on the parent (CID {0})', cid)
          : vscode.l10n.t('listening (CID {0})', cid);
      item.tooltip =
        owner === 'parent'
          ? vscode.l10n.t(
              'vsock {0}:{1}: a program on the parent listens here.\nFrom the enclaves: nitro-dev vsock connect {0}:{1}', // eslint-disable-line max-len
              cid,
              port,
            )
          : vscode.l10n.t(
              'vsock {0}:{1}: the application of {2} listens here.\nFrom the parent: nitro-dev vsock connect {0}:{1}',
              cid,
              port,
              owner,
            );
      item.iconPath = new vscode.ThemeIcon('plug');
      item.contextValue = CONTEXT_VALUES.vsockPort;
      return item;
    }
    case 'proxy': {
      const p = node.proxy;
      const item = new vscode.TreeItem(
        vscode.l10n.t('vsock-proxy {0} → {1}:{2}', p.localPort, p.remoteAddr, p.remotePort),
        vscode.TreeItemCollapsibleState.None,
      );
      item.id = `proxy:${p.parentId}:${p.localPort}`;
      item.description = proxyText(p);
      const tip = new vscode.MarkdownString();
      tip.appendMarkdown(
        p.role === 'kms'
          ? vscode.l10n.t('**vsock-proxy** on {0} (to the local KMS)', node.parent.name)
          : vscode.l10n.t('**vsock-proxy** on {0}', node.parent.name),
      );
      tip.appendMarkdown('\n\n');
      tip.appendText(
        vscode.l10n.t(
          'Forwards connections to vsock port {0} of the parent (CID 3) to {1}:{2}.\nAllowlist: {3}\nWorkers: {4}\nTo the remote end: {5} bytes; back: {6} bytes', // eslint-disable-line max-len
          p.localPort,
          p.remoteAddr,
          p.remotePort,
          p.allowlist,
          p.stats.workers,
          p.stats.bytesToRemote,
          p.stats.bytesFromRemote,
        ) + (p.stats.lastError ? `\n${vscode.l10n.t('Last failure: {0}', p.stats.lastError)}` : ''),
      );
      item.tooltip = tip;
      item.iconPath = new vscode.ThemeIcon(
        'arrow-swap',
        p.stats.lastError ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined,
      );
      item.contextValue = CONTEXT_VALUES.proxy;
      return item;
    }
    case 'kms': {
      const k = node.kms;
      const item = new vscode.TreeItem(
        vscode.l10n.t('Local KMS'),
        k ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
      );
      item.id = `kms:${node.parent.id}`;
      if (!k) {
        item.description = vscode.l10n.t('stopped');
        item.tooltip = vscode.l10n.t(
          'The local KMS endpoint is stopped. Start it to give enclaves KMS on vsock port 8000.',
        );
        item.iconPath = new vscode.ThemeIcon('key', new vscode.ThemeColor('disabledForeground'));
        item.contextValue = CONTEXT_VALUES.kms(false);
        return item;
      }
      const via = k.proxy.error
        ? vscode.l10n.t('no vsock proxy: {0}', k.proxy.error)
        : vscode.l10n.t('vsock port {0}', k.proxy.vsockPort);
      item.description = vscode.l10n.t('{0} · {1} · {2} requests', k.url.replace(/^http:\/\//, ''), via, k.requests);
      const tip = new vscode.MarkdownString();
      tip.appendMarkdown(`${vscode.l10n.t('**Local KMS** (the AWS KMS JSON protocol, on this machine only)')}\n\n`);
      tip.appendText(
        vscode.l10n.t(
          'Endpoint: {0} (AWS SDKs: endpoint URL, any credentials)\nEnclaves of {1}: {2}\nKeys: {3}\nRequests: {4} (allowed {5}, denied {6})', // eslint-disable-line max-len
          k.url,
          node.parent.name,
          via,
          k.keyFile,
          k.requests,
          k.allowed,
          k.denied,
        ),
      );
      item.tooltip = tip;
      item.iconPath = new vscode.ThemeIcon(
        'key',
        k.proxy.error
          ? new vscode.ThemeColor('problemsWarningIcon.foreground')
          : new vscode.ThemeColor('testing.iconPassed'),
      );
      item.contextValue = CONTEXT_VALUES.kms(true);
      return item;
    }
    case 'kmsKey': {
      const key = node.key;
      const item = new vscode.TreeItem(key.keyId, vscode.TreeItemCollapsibleState.None);
      item.id = `kms-key:${node.parent.id}:${key.keyId}`;
      item.description = key.description || key.region;
      const created = key.creationDate.toISOString();
      item.tooltip = vscode.l10n.t(
        '{0}\nCreated {1}{2}',
        key.arn,
        created,
        key.description ? `\n${key.description}` : '',
      );
      item.iconPath = new vscode.ThemeIcon('symbol-key');
      item.contextValue = CONTEXT_VALUES.kmsKey;
      return item;
    }
  }
}
