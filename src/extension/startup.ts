// How long the extension takes to start, in the extension host's own clock (performance.now()):
// extension.ts imports this module first, so `loadedAt` is taken before the rest of the bundle's
// modules run. The `activation` benchmark reads these figures through the extension's API; the log
// shows the activation time.

/** The first children a tree gave VS Code for its root. */
export interface FirstChildren {
  /** performance.now() when getChildren(root) first resolved with at least one node. */
  readonly at: number;
  /** What those nodes were (their `kind`), so a view of messages is not taken for a filled one. */
  readonly kinds: readonly string[];
}

export interface StartupTimes {
  /** When the bundle's first module ran. */
  readonly loadedAt: number;
  /** When the bundle's last module (extension.ts) began to run: every other module has been evaluated. */
  modulesLoadedAt?: number;
  /** When activate() was called. */
  activateStartedAt?: number;
  /** When activate() returned. */
  activatedAt?: number;
  /** Per view, the first time its root had children. */
  readonly firstChildren: { parents?: FirstChildren; images?: FirstChildren };
}

export const startup: StartupTimes = { loadedAt: performance.now(), firstChildren: {} };

/**
 * Notes when `provider` first answers VS Code with root children. Wraps the instance's getChildren
 * (VS Code calls it through the instance, also after the tree view was created).
 */
export function noteFirstChildren<T extends { readonly kind: string }>(
  view: keyof StartupTimes['firstChildren'],
  provider: { getChildren(element?: T): Promise<T[]> },
): void {
  const original = provider.getChildren.bind(provider);
  provider.getChildren = async (element?: T) => {
    const children = await original(element);
    if (element === undefined && children.length > 0 && startup.firstChildren[view] === undefined)
      startup.firstChildren[view] = { at: performance.now(), kinds: children.map((c) => c.kind) };
    return children;
  };
}
