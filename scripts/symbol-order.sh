#!/usr/bin/env bash
# Writes server/symbol-order.txt: the functions of the release `wharf` binary in the order the
# linker should lay them out. First what the server runs to start and while idle, then what the
# registry's hot paths run (wharf-bench against it: pushes, pulls, manifest reads), then what the
# portal and the API run; everything else follows in the linker's own order. Packing the code a
# process actually runs into few pages is what keeps the idle server's resident code small: the
# kernel maps 64 KiB around every fault into a file, so scattered code costs whole neighbourhoods.
#
# Run it after a change of dependencies or a large change of the code (a stale list costs only
# locality, never correctness: names the binary no longer has are skipped). Needs valgrind
# (callgrind), curl and python3. Usage: scripts/symbol-order.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wharf-target}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }

# The same profile as the shipped binary, with its symbols kept: names match exactly.
WHARF_KEEP_SYMBOLS=1 cargo build --release -p wharf --bin wharf -p wharf-bench --bin wharf-bench
bin="$CARGO_TARGET_DIR/release/wharf"
bench="$CARGO_TARGET_DIR/release/wharf-bench"

work="$(mktemp -d)"
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
password=Bench12345
export WHARF_DATA_DIR="$work/data" WHARF_LISTEN="127.0.0.1:$port" WHARF_ADMIN_PASSWORD="$password"

up() {
  for _ in $(seq 1200); do
    curl -s -o /dev/null "$base/v2/" && return 0
    sleep 0.1
  done
  echo "the server did not answer; its log:" >&2; cat "$work/log" >&2; exit 1
}
# Two starts under callgrind: the first creates the data dir (migrations, the admin), the second
# is a restart on it.
callgrind() {
  valgrind --tool=callgrind --demangle=no --dump-instr=no --compress-strings=no \
    --callgrind-out-file="$work/$1.%p" "$bin" >"$work/log" 2>&1 &
  pid=$!
  up
}
callgrind first
curl -s -o /dev/null "$base/v2/"
sleep 3
kill "$pid"; wait "$pid" || true
callgrind cg

dump() { callgrind_control --dump="$1" "$pid" >/dev/null; }
# Idle: the pollers run every 100 and 500 ms.
curl -s -o /dev/null "$base/v2/"
sleep 3
dump start-idle
WHARF_BENCH_TARGET="$base" WHARF_BENCH_TARGET_PID="$pid" WHARF_BENCH_BLOB_MIB=16 WHARF_BENCH_SECONDS=2 \
  WHARF_BENCH_CONNECTIONS=4 WHARF_BENCH_SCALE_OUT=0 WHARF_BENCH_DIR="$work" "$bench" >/dev/null
dump registry
jar="$work/cookies"
curl -s -o /dev/null -c "$jar" -H "origin: $base" -d "username=admin&password=$password" "$base/ui/sign_in"
for page in / /projects /projects/library /projects/library/summary /projects/library/members \
  /projects/library/retention /projects/library/webhooks /logs /admin/users /admin/gc /account /search?q=bench; do
  curl -s -o /dev/null -b "$jar" "$base$page"
done
for api in projects repositories statistics systeminfo users quotas "projects/library/repositories" \
  "audit-logs" "system/gc" labels; do
  curl -s -o /dev/null -u "admin:$password" "$base/api/v2.0/$api"
done
dump portal
kill "$pid"; wait "$pid" 2>/dev/null || true

# The restart and idle, then what only a first start adds, then the registry, the portal and the
# shutdown (cg.PID.N are the restart's dumps in order, cg.PID what ran after the last one).
parts=("$work"/cg.*.1 "$work"/first.* "$work"/cg.*.2 "$work"/cg.*.3 $(ls "$work"/cg.* | grep -v '\.[0-9]*\.[0-9]*$'))
python3 - "$bin" server/symbol-order.txt "${parts[@]}" <<'EOF'
import os, re, subprocess, sys
binary, out, *parts = sys.argv[1:]
# The binary's own functions (its libraries' symbols are not the linker's to place).
text = set()
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "tTwW":
        text.add(fields[2])
seen, order = set(), []
for path in parts:
    names = []
    for line in open(path, errors="replace"):
        m = re.match(r"c?fn=(?:\(\d+\) )?(\S+)", line)
        if m:
            names.append(m.group(1))
    # Sorted within a phase: the order inside one does not change what it touches, and sorted
    # lists make a new file's diff show what changed rather than how the threads interleaved.
    new = sorted({name for name in names if name in text and name not in seen})
    seen.update(new)
    order.extend(new)
    print(f"{os.path.basename(path)}: {len(new)} functions", file=sys.stderr)
open(out, "w").write("".join(n + "\n" for n in order))
print(f"{out}: {len(order)} of the binary's {len(text)} functions", file=sys.stderr)
EOF
