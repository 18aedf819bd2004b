#!/usr/bin/env bash
# Commit-to-delivery latency of change events (issue 28) on PostgreSQL: one receiver on
# loopback gets every secret.set while (1) sets arrive at a steady RATE per second beside
# wrk driving audited actions at full speed (the load a secrets server carries), then
# (2) sets at full speed with wrk (how many deliveries a second one receiver gets, in
# order, and how far behind it falls). Prints p50/p95/p99/max latency per phase.
#   bench/webhooks.sh [SECONDS] [RATE]     (defaults 10 and 50)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust), wrk (installed if missing), python3, a
# release build.
set -euo pipefail
D=${1:-10}
RATE=${2:-50}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=lumio_bench_hooks_$$
cargo build --release -q -p lumio
BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
W=$(mktemp -d)
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
PORT=$((20000 + RANDOM % 10000))
RPORT=$((PORT + 1))
ADMIN="lumio_bench_admin_$RANDOM$RANDOM"
LUMIO_BOOTSTRAP_TOKEN=$ADMIN LUMIO_LOG=warn "$BIN" server --allow-private-fetch \
  --listen 127.0.0.1:$PORT --data-dir "$W/data" --database-url "$PG/$DB" >>"$W/server.log" 2>&1 &
SERVER=$!
python3 bench/webhook_receiver.py $RPORT "$W/latency.txt" &
RECEIVER=$!
cleanup() {
  kill $SERVER $RECEIVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' >/dev/null
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/webhooks" \
  -d "{\"url\":\"http://127.0.0.1:$RPORT/in\",\"events\":\"secret.set\"}" >/dev/null
BASE=/api/v1/extensions/bench/environments/staging
cat > "$W/deploy.json" <<'JSON'
{"files": {"server/functions.ts": "import { action, v } from \"@zaflun/lumio-sdk/server\";\nexport const readOne = action({\n  args: {},\n  handler: async (ctx) => {\n    const key = ctx.secrets.get(\"MY_API_KEY\");\n    return { length: key ? key.length : 0 };\n  },\n});\n"}}
JSON
curl -fs "${auth[@]}" -X PUT "$URL$BASE/secrets/MY_API_KEY" -d '{"value":"sk-bench-key-0123456789"}' >/dev/null
curl -fs "${auth[@]}" -X POST "$URL$BASE/deployments" -d @"$W/deploy.json" >/dev/null
cat > "$W/invoke.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
cat > "$W/set.lua" <<LUA
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer $ADMIN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"sk-bench-rotated-value-0123456789"}'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format(nil, "$BASE/secrets/SET_KEY_" .. math.random(0, 499))
end
LUA
wait_drained() { # expected count
  for _ in $(seq 600); do
    [ "$(wc -l <"$W/latency.txt" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "warning: only $(wc -l <"$W/latency.txt") of $1 deliveries arrived" >&2
}
report() { # label
  python3 - "$W/latency.txt" "$1" <<'PY'
import sys
xs = sorted(float(line.split()[1]) for line in open(sys.argv[1]))
pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
print(f"{sys.argv[2]}: {len(xs)} events, commit to delivery p50 {pick(0.5):.0f} ms, "
      f"p95 {pick(0.95):.0f} ms, p99 {pick(0.99):.0f} ms, max {xs[-1]*1000:.0f} ms")
PY
}

# Phase 1: RATE sets a second, while wrk drives audited actions.
: >"$W/latency.txt"
wrk -t2 -c32 -d$((D + 1))s -s "$W/invoke.lua" "$URL$BASE/actions/functions:readOne" >"$W/actions.txt" &
WRK=$!
python3 - "$URL$BASE/secrets" "$ADMIN" "$RATE" "$D" <<'PY'
import sys, time, urllib.request
base, token, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
start, n = time.time(), 0
while time.time() - start < seconds:
    req = urllib.request.Request(f"{base}/RATE_KEY_{n % 100}", method="PUT",
        data=b'{"value":"sk-bench-steady-value"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    n += 1
    time.sleep(max(0.0, start + n / rate - time.time()))
print(n, file=open("/dev/stderr", "w"))
PY
wait $WRK
SENT=$(wc -l <"$W/latency.txt")
wait_drained $((RATE * D * 9 / 10))
report "steady $RATE sets/s beside $(awk '/Requests\/sec/{print $2}' "$W/actions.txt") audited actions/s"

# Phase 2: sets at full speed.
: >"$W/latency.txt"
set_out=$(wrk -t2 -c32 -d${D}s -s "$W/set.lua" "$URL")
SETS=$(awk '/requests in/{print $1}' <<<"$set_out")
T0=$(date +%s.%N)
wait_drained "$SETS"
T1=$(date +%s.%N)
echo "sets at full speed: $(awk '/Requests\/sec/{print $2}' <<<"$set_out") sets/s for ${D} s ($SETS), drained $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s after the load stopped"
report "full-speed sets"
