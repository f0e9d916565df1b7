// Globals the engine may rely on: those that Node 20 and current browsers both provide.
// The engine's type environment has neither Node's nor the DOM's declarations, so using anything
// else (Buffer, process, document, ...) fails type checking.

declare const __NITRO_VERSION__: string;

interface TextEncoder {
  encode(input?: string): Uint8Array;
}
declare var TextEncoder: { new (): TextEncoder };

interface TextDecoder {
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare var TextDecoder: {
  new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder;
};

type TimerHandle = { readonly __timerHandle?: never } | number;
declare function setTimeout(callback: () => void, ms?: number): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;
declare function queueMicrotask(callback: () => void): void;

declare function atob(data: string): string;
declare function btoa(data: string): string;

// Files esbuild bundles as text (its `text` loader, esbuild.config.mjs): importing one gives its
// contents as a string. The QEMU test kernel's configuration (src/engine/node/qemu/kernel-min.config).
declare module '*.config' {
  const text: string;
  export default text;
}

// The QEMU backend's guest programs' C sources, bundled as text (esbuild's `text` loader).
declare module '*.c' {
  const source: string;
  export default source;
}
