#!/usr/bin/env bash
# The audit log one anonymous client can force through refused reads (issue 23): an
# action declaring `secrets: []` asks for 9,999 distinct names per call, and wrk calls it
# from one address for D seconds. Prints the secret.denied records written per second,
# their row bytes per second (pg_column_size) and the audit log's growth on disk per
# second (tables and indexes of every partition).
#   bench/denied-audit.sh [SECONDS] [CONNECTIONS] [NAMES]    (defaults 10, 4 and 9999:
#   distinct names refused per call; 17 is the cheapest call that fills its quota)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust), wrk, a release build; LUMIO_BIN picks
# another binary (to measure an older build the same way).
set -euo pipefail
D=${1:-10}
C=${2:-4}
N=${3:-9999}
cd "$(dirname "$0")/.."
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=lumio_denied_$$
if [ -z "${LUMIO_BIN:-}" ]; then
  cargo build --release -q -p lumio
  LUMIO_BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
fi
W=$(mktemp -d)
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
PORT=$((20000 + RANDOM % 10000))
TOKEN="lumio_bench_admin_$RANDOM$RANDOM"
LUMIO_BOOTSTRAP_TOKEN=$TOKEN LUMIO_LOG=warn "$LUMIO_BIN" server \
  --listen 127.0.0.1:$PORT --data-dir "$W/data" --database-url "$PG/$DB" >>"$W/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' >/dev/null
cat > "$W/deploy.json" <<JSON
{"files": {"server/functions.ts": "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const probe = action({\n  args: {},\n  secrets: [],\n  handler: async (ctx) => {\n    let refused = 0;\n    for (let i = 0; i < $N; i++) { try { ctx.secrets.get(\"GUESS_\" + i); } catch { refused++; } }\n    return refused;\n  },\n});\n"}}
JSON
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/environments/production/deployments" -d @"$W/deploy.json" >/dev/null
ACTION=$URL/api/v1/extensions/bench/environments/production/actions/functions:probe
curl -s -X POST -H "Content-Type: application/json" -d '{"args":{}}' "$ACTION"; echo
cat > "$W/invoke.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
audit() { # rows, row bytes, bytes on disk
  psql -qtA -F' ' "$PG/$DB" -c "
    SELECT (SELECT count(*) FROM ext_audit_log WHERE event = 'secret.denied'),
           (SELECT coalesce(sum(pg_column_size(l.*)), 0) FROM ext_audit_log l WHERE event = 'secret.denied'),
           (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits
              WHERE inhparent = 'ext_audit_log'::regclass)
             + pg_total_relation_size('ext_audit_log')"
}
# Every record of the warm-up call is durable before its answer.
read -r rows0 bytes0 disk0 < <(audit)
out=$(wrk -t1 -c"$C" -d"${D}s" --timeout 10s -s "$W/invoke.lua" "$ACTION")
sleep 1 # the audit writer's last batch
read -r rows1 bytes1 disk1 < <(audit)
calls=$(awk '/requests in/{print $1}' <<<"$out")
awk -v d="$D" -v c="$calls" -v r=$((rows1 - rows0)) -v b=$((bytes1 - bytes0)) -v k=$((disk1 - disk0)) 'BEGIN {
  printf "calls: %d (%.1f/s); secret.denied records: %d (%.0f/s, %.1f per call); row bytes: %.0f/s; on disk: %.0f bytes/s\n",
    c, c / d, r, r / d, (c > 0 ? r / c : 0), b / d, k / d }'
grep -E "Non-2xx|Socket errors" <<<"$out" || true
