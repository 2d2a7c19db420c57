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
for pair in skopeo:skopeo podman:podman dockerd:docker.io docker:docker.io openssl:openssl tar:tar \
  curl:curl pg_ctlcluster:postgresql; do
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

# PostgreSQL for the scale-out half of the suite: start the cluster when it is not running.
read -r pg_version pg_cluster pg_status < <(pg_lsclusters -h | awk 'NR==1 {print $1, $2, $4}')
if [ "$pg_status" != "online" ]; then
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
fi
su postgres -c "psql -Atqc \"SELECT 1 FROM pg_roles WHERE rolname = 'root'\"" | grep -q 1 \
  || su postgres -c "createuser -s root"
export WHARF_TEST_POSTGRES="postgres:///{db}?host=/var/run/postgresql"
# Each PostgreSQL test makes its own database; drop the ones earlier runs left.
psql -Atq "postgres:///postgres?host=/var/run/postgresql" \
  -c "SELECT 'DROP DATABASE ' || datname || ';' FROM pg_database WHERE datname LIKE 'wharf\_t\_%'" \
  | psql -q "postgres:///postgres?host=/var/run/postgresql" >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Everything on the embedded default (SQLite, local disk)…
WHARF_TEST_POSTGRES= cargo test --workspace "$@"
# …and the integration suite again on PostgreSQL.
cargo test -p wharf --test registry "$@"
