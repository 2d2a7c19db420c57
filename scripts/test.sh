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
  curl:curl pg_ctlcluster:postgresql docker-compose:docker-compose chromium:chromium \
  chromedriver:chromium-driver docker-registry:docker-registry nginx:nginx-light slapd:slapd \
  ldapadd:ldap-utils node:nodejs npm:npm; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# A statically linked shell for images built FROM scratch that run a command (the layer
# browser's tests delete a file in an upper layer); a dynamic busybox cannot run there.
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
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
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing: moto[server] (PyPI)"
  python3 -m pip install -q --disable-pip-version-check 'moto[server]'
  hash -r
fi

# The OpenID Provider the OIDC tests sign in through: oidc-provider from the npm registry, at
# the versions the lock file pins, run with Node.js.
if [ ! -d e2e/oidc/node_modules ] || [ e2e/oidc/package-lock.json -nt e2e/oidc/node_modules ]; then
  echo "installing: the test OpenID Provider (npm)"
  npm ci --prefix e2e/oidc --no-audit --no-fund --loglevel=error
  touch e2e/oidc/node_modules
fi

# axe-core, which the browser tests inject into every page to check its accessibility.
if [ ! -d e2e/axe/node_modules ] || [ e2e/axe/package-lock.json -nt e2e/axe/node_modules ]; then
  echo "installing: axe-core (npm)"
  npm ci --prefix e2e/axe --no-audit --no-fund --loglevel=error
  touch e2e/axe/node_modules
fi

# The portal's browser bundle is built into the binary by the server's build script; it needs
# the wasm target (the build script would add it too, but say so up front).
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

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

# A real S3-protocol server on loopback for the S3 half, stopped when this script ends.
s3_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$s3_port" >/tmp/wharf-moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break
  sleep 0.2
done
curl -sf -X PUT "http://127.0.0.1:$s3_port/wharf-test" >/dev/null
s3_env=(AWS_ENDPOINT="http://127.0.0.1:$s3_port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test WHARF_TEST_S3=s3://wharf-test)

docker-compose -f docker-compose.yml config -q
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p frontend --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings
# Everything on the embedded default (SQLite, local disk)…
WHARF_TEST_POSTGRES= cargo test --workspace "$@"
# …then the scale-out shape: the storage suite on S3 too, and the integration suite on
# PostgreSQL with blobs in S3.
env "${s3_env[@]}" cargo test -p wharf -p wharf-e2e --lib --test registry --test api --test portal --test replicas "$@"
