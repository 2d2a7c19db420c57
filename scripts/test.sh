#!/usr/bin/env bash
# The whole test suite: installs the tools the tests need when they are missing (idempotent,
# safe to re-run), then checks formatting and lints and runs every test, end-to-end included.
# Runs as root on Debian (as CI does). Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# One build directory outside the clone, so repeated runs (and CI on this machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wharf-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

missing=()
for pair in skopeo:skopeo podman:podman dockerd:docker.io docker:docker.io openssl:openssl tar:tar; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) uidmap >/dev/null
fi
if ! python3 -c 'import oras' >/dev/null 2>&1; then
  echo "installing: oras (PyPI)"
  python3 -m pip install -q --disable-pip-version-check oras
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
