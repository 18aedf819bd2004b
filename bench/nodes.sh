#!/usr/bin/env bash
# Aggregate rates of 1, 2, ... N `lumio server` nodes on one PostgreSQL database: set,
# list and the audited action (reads one secret, its record durable before the answer).
# Each node gets its own wrk (1 thread, 16 connections) at the same time; the line per
# figure gives the sum and each node's share. docs/scaling.md keeps the figures.
#   bench/nodes.sh [SECONDS] [MAX_NODES]        (defaults 10, 3)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust; LUMIO_BENCH_POSTGRES overrides), wrk
# (installed if missing), curl, python3, openssl, a release build.
set -euo pipefail
export LC_ALL=C
D=${1:-10}
MAX=${2:-3}
die() { echo "nodes.sh: $*" >&2; exit 1; }
[[ $D =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$D'"
[[ $MAX =~ ^[1-9]$ ]] || die "MAX_NODES must be 1 to 9, not '$MAX'"
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
psql -q "$PG/postgres" -c "SELECT 1" >/dev/null 2>&1 || die "PostgreSQL does not answer at $PG"
cargo build --release -q -p lumio
BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
W=$(mktemp -d)
DB=lumio_nodes_$$
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
ADMIN="lumio_nodes_admin_$RANDOM$RANDOM$RANDOM"
MASTER_KEY=$(openssl rand -base64 32)
PIDS=()
PORTS=()
stop_nodes() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PIDS=()
  PORTS=()
}
cleanup() {
  stop_nodes
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
start_nodes() { # count
  local i port
  for i in $(seq "$1"); do
    port=$((20000 + RANDOM % 10000))
    mkdir -p "$W/data$i"
    LUMIO_BOOTSTRAP_TOKEN=$ADMIN LUMIO_MASTER_KEY=$MASTER_KEY LUMIO_LOG=warn "$BIN" server \
      --listen 127.0.0.1:$port --data-dir "$W/data$i" --database-url "$PG/$DB" \
      --client-rate-limit 0 >>"$W/node$i.log" 2>&1 &
    PIDS+=($!)
    PORTS+=("$port")
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || die "a node did not start: $(tail -n 5 "$W"/node*.log)"
  done
}

start_nodes 1
URL=http://127.0.0.1:${PORTS[0]}
auth=(-H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json")
CODE=$(curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["claim_code"])')
TOKEN=$(curl -fs -H "Content-Type: application/json" -X POST "$URL/api/v1/claims" -d "{\"code\":\"$CODE\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
BASE=/api/v1/extensions/bench/environments/production/secrets
SET_BASE=/api/v1/extensions/bench/environments/staging/secrets
for i in $(seq 0 49); do
  curl -fs "${auth[@]}" -X PUT "$URL$BASE/LIST_KEY_$i" -d '{"value":"sk-bench-value"}' >/dev/null
done
curl -fs "${auth[@]}" -X PUT "$URL$BASE/MY_API_KEY" -d '{"value":"sk-abc123-bench-key-0123456789"}' >/dev/null
cat > "$W/deploy.json" <<'JSON'
{"files": {"server/functions.ts": "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const readOne = action({ args: {}, secrets: [\"MY_API_KEY\"], handler: async (ctx) => ({ length: (ctx.secrets.get(\"MY_API_KEY\") ?? \"\").length }) });\n"}}
JSON
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/environments/production/deployments" -d @"$W/deploy.json" >/dev/null
ACTION=/api/v1/extensions/bench/environments/production/actions/functions:readOne
cat > "$W/invoke.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
cat > "$W/set.lua" <<LUA
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"sk-abc123-rotated-value-0123456789abcdef0123456789abcdef"}'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format(nil, "$SET_BASE/SET_KEY_" .. math.random(0, 499))
end
LUA
# Creates the 500 names once, so measured sets are rotations.
wrk -t1 -c16 -d3s -s "$W/set.lua" "$URL" >/dev/null
stop_nodes

all_at_once() { # label, seconds, wrk arguments after the URL... (URL path first)
  local label=$1 seconds=$2 path=$3
  shift 3
  local i outs=()
  for i in "${!PORTS[@]}"; do
    wrk -t1 -c16 -d"${seconds}s" "$@" "http://127.0.0.1:${PORTS[$i]}$path" >"$W/wrk$i.out" 2>&1 &
    outs+=($!)
  done
  for pid in "${outs[@]}"; do wait "$pid"; done
  local rates=() total=0 rate
  for i in "${!PORTS[@]}"; do
    rate=$(awk '/Requests\/sec/{print $2}' "$W/wrk$i.out")
    rates+=("${rate%.*}")
    total=$(awk -v t="$total" -v r="$rate" 'BEGIN{printf "%.0f", t + r}')
  done
  [ -n "$label" ] && echo "$label, ${#PORTS[@]} node(s): $total req/s in all (per node: ${rates[*]})"
  return 0
}

for n in $(seq "$MAX"); do
  start_nodes "$n"
  all_at_once "" 2 "$ACTION" -s "$W/invoke.lua"
  all_at_once "set (durable, audited)          " "$D" / -s "$W/set.lua"
  all_at_once "list (50 secrets)               " "$D" "$BASE" -H "Authorization: Bearer $TOKEN"
  all_at_once "action reading 1 secret (audited)" "$D" "$ACTION" -s "$W/invoke.lua"
  stop_nodes
done

# What each audit record costs on disk (table, indexes, TOAST), for sizing.
psql -Atq "$PG/$DB" -c "SELECT count(*) || ' audit records, ' ||
  round((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
         WHERE inhparent = 'ext_audit_log'::regclass) / greatest(count(*), 1)) || ' bytes each on disk (with indexes)'
  FROM ext_audit_log"
