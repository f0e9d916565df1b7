// What the extension loads when a doctor command runs (loadDoctor in index.ts): the doctor's checks
// and report, on this machine and over SSH. A module of its own so that esbuild.config.mjs can bundle
// it apart from the extension.
export { doctorMarkdown } from '../doctor/doctor';
export { runLocalDoctor } from './doctorSystem';
export { runRemoteDoctor } from './doctorRemote';
