#!/usr/bin/env bash
# Online master-key rotation under load (issue 22, item 3): seeds N stored versions
# (default 100,000: extensions of 1,000 names x 2 environments x 20 versions, the most a
# store keeps, 40,000 versions each) on PostgreSQL, measures
# an action reading one secret (`ctx.secrets.get`, audited) with wrk before a rotation and
# while it rewraps, and reads the rewrap rate from the server's "rotation finished" line.
#   bench/rotation.sh [VERSIONS] [SECONDS]        (defaults 100000 and 10)
# LUMIO_ROTATION_REST_PERCENT (passed to the server) sets the rewrap's rest after each batch.
# Needs: PostgreSQL on 127.0.0.1:5432 (trust), wrk (installed if missing), a release build
# (or LUMIO_BIN=path/to/lumio).
set -euo pipefail
N=${1:-100000}
D=${2:-10}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=lumio_rotbench_$$
# LUMIO_BIN: a lumio binary already built (say a debug one); else a release build.
BIN=${LUMIO_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release -q -p lumio
  BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
fi
W=$(mktemp -d)
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
PORT=$((20000 + RANDOM % 10000))
TOKEN="lumio_bench_admin_$RANDOM$RANDOM"
LUMIO_BOOTSTRAP_TOKEN=$TOKEN LUMIO_LOG=warn,lumio_secrets=info "$BIN" server --log-format json \
  --listen 127.0.0.1:$PORT --data-dir "$W/data" --database-url "$PG/$DB" >>"$W/server.log" 2>&1 &
SERVER=$!
cleanup() {
  status=$?
  [ "$status" -eq 0 ] || { echo "failed ($status); the server's last lines:" >&2; tail -5 "$W/server.log" >&2; }
  kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
EXT=/api/v1/extensions/bench/environments

echo "seeding $N versions…"
t0=$(date +%s)
left=$N
e=0
while [ "$left" -gt 0 ]; do
  name=bench; [ $e -gt 0 ] && name=bench$e
  curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d "{\"name\":\"$name\"}" >/dev/null
  for r in $(seq 1 20); do
    [ "$left" -gt 0 ] || break
    python3 - "$r" >"$W/import.json" <<'PY'
import json, sys
r = sys.argv[1]
print(json.dumps({"secrets": {f"K{i}": f"sk-bench-{i}-{r}-0123456789abcdef" for i in range(1000)}}))
PY
    for env in staging production; do
      curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/$name/environments/$env/secrets" \
        -d @"$W/import.json" >/dev/null
      left=$((left - 1000))
    done
  done
  e=$((e + 1))
done
echo "seeded in $(( $(date +%s) - t0 )) s"

cat > "$W/deploy.json" <<'JSON'
{"files": {"server/functions.ts": "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const readOne = action({\n  args: {},\n  handler: async (ctx) => {\n    const key = ctx.secrets.get(\"K7\");\n    return { configured: !!key, length: key ? key.length : 0 };\n  },\n});\n"}}
JSON
curl -fs "${auth[@]}" -X POST "$URL$EXT/production/deployments" -d @"$W/deploy.json" >/dev/null
cat > "$W/invoke.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
ACTION="$URL$EXT/production/actions/functions:readOne"
summary() { # label, wrk output
  echo "$1: $(awk '/Requests\/sec/{print $2}' <<<"$2") req/s, p50 $(awk '$1=="50%"{print $2}' <<<"$2"), p99 $(awk '$1=="99%"{print $2}' <<<"$2")$(awk '/Non-2xx/{print ", non-2xx " $5}' <<<"$2")"
}
wrk -t2 -c32 -d3s -s "$W/invoke.lua" "$ACTION" >/dev/null
before=$(wrk -t2 -c32 -d"${D}s" -s "$W/invoke.lua" "$ACTION" --latency)

# The rewrap starts 3 s after the rotation names its key; wrk runs across it.
curl -fs "${auth[@]}" -X POST "$URL/api/v1/admin/master-key/rotations" >/dev/null
sleep 3
during=$(wrk -t2 -c32 -d"${D}s" -s "$W/invoke.lua" "$ACTION" --latency)
for _ in $(seq 600); do
  curl -fs "${auth[@]}" "$URL/api/v1/admin/master-key" | grep -q '"rotating":false' && break
  sleep 0.5
done
summary "action reading 1 secret, before rotation " "$before"
summary "action reading 1 secret, during rewrap   " "$during"
grep '"master-key rotation finished' "$W/server.log" | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line).get("fields", json.loads(line))
    moved, secs = int(f["moved"]), float(f["seconds"])
    print(f"rewrap: {moved} versions in {secs:.1f} s = {moved/secs:,.0f} versions/s")
'
