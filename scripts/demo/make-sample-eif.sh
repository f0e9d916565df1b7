#!/usr/bin/env bash
# Builds demo/images/sample-app.eif with nitro-dev itself: the OCI test image (test/fixtures/oci,
# made with umoci from busybox-static) and the synthetic blobs (test/fixtures/blobs; they do not
# boot), at a fixed build time, so the result is the same bytes every time. A unit test rebuilds it
# and compares.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/cli.js ] || node esbuild.config.mjs
node dist/cli.js build-enclave \
  --oci-layout test/fixtures/oci/layout:v1 \
  --blobs test/fixtures/blobs \
  --name sample-app --version 1.0 \
  --build-time 2024-01-02T03:04:05Z \
  --output-file demo/images/sample-app.eif
