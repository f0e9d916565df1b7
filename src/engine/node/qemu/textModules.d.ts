// Files bundled as text by esbuild's `text` loader (esbuild.config.mjs): importing one gives its
// contents as a string.
declare module '*.config' {
  const text: string;
  export default text;
}
