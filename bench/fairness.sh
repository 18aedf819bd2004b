#!/usr/bin/env bash
# Tenant fairness (issue 23): a victim extension's audited action, called ten times a
# second, with and without each attack of a hostile extension on the same server. Prints
# the victim's p50/p99/worst latency and errors per attack, and the server's RSS.
#   bench/fairness.sh [SECONDS] [sqlite|postgres] [SERVER FLAGS...]   (defaults: 10, sqlite)
# ATTACKS=hold,loops runs only the attacks whose label holds one of the words; LUMIO_BIN
# picks another binary (to compare builds the same way).
# Needs: python3, a release build (made here); PostgreSQL on 127.0.0.1:5432 for postgres.
set -euo pipefail
D=${1:-10}
BACKEND=${2:-sqlite}
shift $(( $# < 2 ? $# : 2 ))
cd "$(dirname "$0")/.."
if [ -z "${LUMIO_BIN:-}" ]; then
  cargo build --release -q -p lumio
fi
BIN=${LUMIO_BIN:-${CARGO_TARGET_DIR:-target}/release/lumio}
W=$(mktemp -d)
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=lumio_fair_$$
DATABASE=(--database-url "sqlite://$W/data/lumio.db")
if [ "$BACKEND" = postgres ]; then
  psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
  DATABASE=(--database-url "$PG/$DB")
fi
PORT=$((20000 + RANDOM % 10000))
TOKEN="lumio_bench_admin_$RANDOM$RANDOM"
mkdir -p "$W/data"
LUMIO_BOOTSTRAP_TOKEN=$TOKEN LUMIO_LOG=warn "$BIN" server --listen 127.0.0.1:$PORT \
  --data-dir "$W/data" "${DATABASE[@]}" --client-rate-limit 0 "$@" >"$W/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  [ "$BACKEND" = postgres ] && psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
deploy() { # extension, TypeScript source
  curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d "{\"name\":\"$1\"}" >/dev/null
  python3 -c 'import json,sys; print(json.dumps({"files": {"server/functions.ts": sys.argv[1]}}))' "$2" >"$W/deploy.json"
  curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/$1/environments/production/deployments" -d @"$W/deploy.json" >/dev/null
}
deploy victim 'import { action } from "@zaflun/lumio-sdk/server";
export const read = action({ args: {}, secrets: ["API_KEY"], handler: async (ctx) => {
  const key = ctx.secrets.get("API_KEY");
  return { length: key ? key.length : 0 };
} });'
curl -fs "${auth[@]}" -X PUT "$URL/api/v1/extensions/victim/environments/production/secrets/API_KEY" \
  -d '{"value":"sk-fairness-victim-key"}' >/dev/null
deploy hostile 'import { action } from "@zaflun/lumio-sdk/server";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const sleepy = action({ args: {}, handler: async () => { await sleep(29000); return 1; } });
export const spin = action({ args: {}, handler: async () => { while (true) {} } });
export const hoard = action({ args: {}, handler: async () => {
  const held = new Uint8Array(60 << 20); held.fill(7); await sleep(2000); return held[0];
} });
export const denied = action({ args: {}, secrets: ["GRANTED"], handler: async (ctx) => {
  let refused = 0;
  for (let i = 0; i < 9999; i++) { try { ctx.secrets.get("NOT_GRANTED_" + i); } catch { refused++; } }
  return refused;
} });'
echo "backend: $BACKEND, $(nproc) cores, victim calls for ${D}s per attack"
python3 bench/fairness.py "$URL" "$SERVER" "$D"
