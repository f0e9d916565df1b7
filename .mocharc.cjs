// Mocha's settings for the unit tier (`npm test -- unit`, and `npx mocha dist/test/unit/...` run by
// hand). Many tests start processes (dist/cli.js, openssl, cpio, tar): on a busy 2-core machine one
// such test can take many seconds, so the default timeout is generous rather than mocha's 2 s.
// A suite that needs more says so with this.timeout(...). Speed is measured by benchmarks (bench/).
module.exports = {
  timeout: 120_000,
};
