// What the extension loads on its first build (loadImageBuild in index.ts): the build pipeline and the
// reproducibility check, which builds twice. A module of its own so that esbuild.config.mjs can bundle
// it apart from the extension.
export { buildEnclave } from './buildEnclave';
export { checkReproducibility } from './reproducibility';
