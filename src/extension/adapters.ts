// Type-only checks that VS Code's objects fit the engine's structural "Like" types, so the engine
// stays free of vscode while the compiler still catches any drift between the two.
import type * as vscode from 'vscode';
import type { CancellationLike, DisposableLike, EventLike } from '../engine';

export type VsCodeFits = [
  vscode.Disposable extends DisposableLike ? true : never,
  vscode.CancellationToken extends CancellationLike ? true : never,
  vscode.Event<number> extends EventLike<number> ? true : never,
];
export const vsCodeFits = [true, true, true] as const satisfies VsCodeFits;
