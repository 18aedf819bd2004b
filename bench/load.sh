#!/usr/bin/env bash
# Lumio's load script: set, list and actions on PostgreSQL under wrk over loopback, over
# HTTP and then over HTTPS (--tls-cert, a throwaway certificate) in the same run, beside
# pgbench's select-only rate and OpenBao's KV rates (../shared/bench/peer-openbao.sh),
# all measured in the same run. Prints one line per figure; docs/benchmarks.md keeps them.
#   bench/load.sh [SECONDS]        (default 10)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust), wrk (installed if missing), openssl, a
# release build.
set -euo pipefail
D=${1:-10}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=lumio_bench_$$
cargo build --release -q -p lumio
BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
W=$(mktemp -d)
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
PORT=$((20000 + RANDOM % 10000))
ADMIN="lumio_bench_admin_$RANDOM$RANDOM"
start_server() { # extra arguments (TLS)
  LUMIO_BOOTSTRAP_TOKEN=$ADMIN LUMIO_LOG=warn "$BIN" server \
    --listen 127.0.0.1:$PORT --data-dir "$W/data" --database-url "$PG/$DB" "$@" >>"$W/server.log" 2>&1 &
  SERVER=$!
}
start_server
cleanup() {
  kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json")
# The extension's owner makes the calls, as a customer would: since issue 22 an admin
# does not manage a claimed extension's secrets.
CODE=$(curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["claim_code"])')
TOKEN=$(curl -fs -H "Content-Type: application/json" -X POST "$URL/api/v1/claims" -d "{\"code\":\"$CODE\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
BASE=/api/v1/extensions/bench/environments/production/secrets
# Sets go to staging so the production list keeps its 50 names.
SET_BASE=/api/v1/extensions/bench/environments/staging/secrets
for i in $(seq 0 49); do
  curl -fs "${auth[@]}" -X PUT "$URL$BASE/LIST_KEY_$i" -d '{"value":"sk-bench-value"}' >/dev/null
done

# An action that reads one secret (audited, durable before the answer) and returns a
# value derived from it without leaking it.
cat > "$W/deploy.json" <<'JSON'
{"files": {"server/functions.ts": "import { action, v } from \"@zaflun/lumio-sdk/server\";\nexport const readOne = action({\n  args: {},\n  handler: async (ctx) => {\n    const key = ctx.secrets.get(\"MY_API_KEY\");\n    if (!key) { throw new Error(\"MY_API_KEY is not configured\"); }\n    return { configured: true, length: key.length };\n  },\n});\nexport const noop = action({ args: {}, handler: async () => null });\n"}}
JSON
curl -fs "${auth[@]}" -X PUT "$URL$BASE/MY_API_KEY" -d '{"value":"sk-abc123-bench-key-0123456789"}' >/dev/null
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/environments/production/deployments" -d @"$W/deploy.json" >/dev/null
ACTIONS=/api/v1/extensions/bench/environments/production/actions
cat > "$W/invoke.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
curl -fs -X POST -H "Content-Type: application/json" -d '{"args":{}}' "$URL$ACTIONS/functions:readOne" >/dev/null

cat > "$W/set.lua" <<LUA
-- Each request sets one of 500 names, so concurrent writers rarely race on one secret.
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"sk-abc123-rotated-value-0123456789abcdef0123456789abcdef"}'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format(nil, "$SET_BASE/SET_KEY_" .. math.random(0, 499))
end
LUA
# 25 writers racing on one name: how often a set still ends in 409 after its retries.
sed -e 's/math.random(0, 499)/0/' "$W/set.lua" > "$W/contend.lua"
summary() { # label, wrk output
  local rps p50 p99
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$2")
  p50=$(awk '$1=="50%"{print $2}' <<<"$2")
  p99=$(awk '$1=="99%"{print $2}' <<<"$2")
  local errors; errors=$(awk '/Non-2xx/{print $5}' <<<"$2")
  echo "$1: $rps req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
}
# Warm-up, not reported: creates the 500 names (first writes take the limit-checking
# path, serialized per environment) so the measured sets are rotations, and warms caches.
wrk -t2 -c32 -d3s -s "$W/set.lua" "$URL" >/dev/null
wrk -t2 -c32 -d2s -s "$W/invoke.lua" "$URL$ACTIONS/functions:readOne" >/dev/null
set_out=$(wrk -t2 -c32 -d${D}s -s "$W/set.lua" "$URL" --latency)
list_out=$(wrk -t2 -c32 -d${D}s -H "Authorization: Bearer $TOKEN" "$URL$BASE" --latency)
health_out=$(wrk -t2 -c32 -d${D}s "$URL/healthz" --latency)
invoke_out=$(wrk -t2 -c32 -d${D}s -s "$W/invoke.lua" "$URL$ACTIONS/functions:readOne" --latency)
noop_out=$(wrk -t2 -c32 -d${D}s -s "$W/invoke.lua" "$URL$ACTIONS/functions:noop" --latency)
contend_out=$(wrk -t2 -c25 -d${D}s -s "$W/contend.lua" "$URL" --latency)
summary "lumio set  (PostgreSQL, durable, audited)" "$set_out"
summary "lumio list (PostgreSQL, 50 secrets)      " "$list_out"
summary "lumio /healthz (no-op endpoint)          " "$health_out"
summary "lumio action reading 1 secret (audited)  " "$invoke_out"
summary "lumio action, no secret (no-op action)   " "$noop_out"
summary "lumio set, 25 writers on one name        " "$contend_out"
awk '/requests in/{total=$1} /Non-2xx/{bad=$5} END{printf "  of which 409 after retries: %.1f%%\n", 100*bad/(total?total:1)}' <<<"$contend_out"

# The same server over HTTPS (same database and data): a certificate for 127.0.0.1, an
# ECDSA P-256 key as a CA would issue today. wrk keeps connections alive, as clients do.
kill $SERVER; wait $SERVER 2>/dev/null || true
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$W/tls.key" -out "$W/tls.crt" >/dev/null 2>&1
start_server --tls-cert "$W/tls.crt" --tls-key "$W/tls.key"
URL=https://127.0.0.1:$PORT
for _ in $(seq 100); do curl -kfs "$URL/healthz" >/dev/null && break; sleep 0.1; done
wrk -t2 -c32 -d2s -s "$W/invoke.lua" "$URL$ACTIONS/functions:readOne" >/dev/null
tls_set_out=$(wrk -t2 -c32 -d${D}s -s "$W/set.lua" "$URL" --latency)
tls_list_out=$(wrk -t2 -c32 -d${D}s -H "Authorization: Bearer $TOKEN" "$URL$BASE" --latency)
tls_invoke_out=$(wrk -t2 -c32 -d${D}s -s "$W/invoke.lua" "$URL$ACTIONS/functions:readOne" --latency)
summary "lumio set  over HTTPS                    " "$tls_set_out"
summary "lumio list over HTTPS                    " "$tls_list_out"
summary "lumio action reading 1 secret over HTTPS " "$tls_invoke_out"
ratio() { awk -v a="$(awk '/Requests\/sec/{print $2}' <<<"$1")" -v b="$(awk '/Requests\/sec/{print $2}' <<<"$2")" 'BEGIN{printf "%.2f", a/b}'; }
echo "HTTPS/HTTP: set $(ratio "$tls_set_out" "$set_out"), list $(ratio "$tls_list_out" "$list_out"), action $(ratio "$tls_invoke_out" "$invoke_out")"

pgbench -q -i -s 10 "$PG/$DB" >/dev/null 2>&1
pg=$(pgbench -S -c 32 -j 2 -T "$D" "$PG/$DB" 2>/dev/null | awk '/^tps/{print $3; exit}')
echo "pgbench select-only (32 clients): $pg tps"
kill $SERVER; wait $SERVER 2>/dev/null || true

if [ -x ../shared/bench/peer-openbao.sh ] || [ -f ../shared/bench/peer-openbao.sh ]; then
  bash ../shared/bench/peer-openbao.sh "$D" || echo "openbao peer: could not run"
fi
