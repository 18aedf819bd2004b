#!/usr/bin/env bash
# Actions that await an external API (issue 8): the seed's `callExternalApi` (read a key,
# `await ctx.fetch`, return the JSON) against a loopback API answering after a fixed delay,
# beside Node.js doing the same job, in the same run, under the same wrk load.
#   bench/fetch-load.sh [SECONDS]    (default 10)
# Prints, for a 100 ms API and 64 clients: Lumio's and Node's rate, latency and errors, the
# p99 of a fast no-secret action called during the load; then 1,000 clients against a 1 s
# API, with the server's RSS. Needs: node, wrk (installed if missing), a release build.
set -euo pipefail
D=${1:-10}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
command -v node >/dev/null || { echo "node is needed for the API and the Node.js peer" >&2; exit 1; }
cargo build --release -q -p lumio
BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
W=$(mktemp -d)
ulimit -n 65536 2>/dev/null || true
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
# Below the ephemeral range (32768+), where outgoing connections take their ports.
port() { echo $((20000 + RANDOM % 12000)); }
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

# The external API: answers {"results": [...]} after DELAY ms.
cat > "$W/api.js" <<'JS'
const http = require("http");
const delay = Number(process.env.DELAY);
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ results: ["a", "b"], auth: req.headers.authorization ? "yes" : "no" }));
  }, delay));
}).listen(Number(process.env.PORT), "127.0.0.1", 4096);
JS
# Node.js doing callExternalApi's job: read the key, await fetch, return the JSON.
cat > "$W/peer.js" <<'JS'
const http = require("http");
const api = process.env.API;
http.createServer(async (req, res) => {
  for await (const _ of req) {}
  const apiKey = process.env.MY_API_KEY;
  const r = await fetch(api + "/search", {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ query: "espn" }),
  });
  const json = await r.json();
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(json));
}).listen(Number(process.env.PORT), "127.0.0.1", 4096);
JS

start_api() { # delay_ms; sets API to its port (no subshell: it must stay our child)
  API=$(port)
  DELAY=$1 PORT=$API node "$W/api.js" & PIDS+=($!)
  wait_up "http://127.0.0.1:$API/"
}

PORT=$(port)
TOKEN="lumio_bench_admin_$RANDOM$RANDOM"
# One extension alone on the server: its share of slots is the whole server's (the
# default, a quarter, would refuse most of the 1,000 clients below).
LUMIO_BOOTSTRAP_TOKEN=$TOKEN LUMIO_LOG=warn "$BIN" server --allow-private-fetch \
  --max-inflight-per-extension 2048 --listen 127.0.0.1:$PORT --data-dir "$W/data" >"$W/server.log" 2>&1 &
SERVER=$!; PIDS+=($SERVER)
URL=http://127.0.0.1:$PORT
wait_up "$URL/healthz"
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' >/dev/null
curl -fs "${auth[@]}" -X PUT "$URL/api/v1/extensions/bench/environments/production/secrets/MY_API_KEY" \
  -d '{"value":"sk-abc123-bench-key-0123456789"}' >/dev/null
ACTIONS=$URL/api/v1/extensions/bench/environments/production/actions
deploy() { # api_port
  python3 - "$1" > "$W/deploy.json" <<'PY'
import json, sys
src = f'''import {{ action, v }} from "@zaflun/lumio-sdk/server";
export const callExternalApi = action({{
  args: {{ query: v.string() }},
  handler: async (ctx, args) => {{
    const apiKey = ctx.secrets.get("MY_API_KEY");
    if (!apiKey) {{ throw new Error("MY_API_KEY is not configured. Add it in the extension dashboard."); }}
    const res = await ctx.fetch("http://127.0.0.1:{sys.argv[1]}/search", {{
      method: "POST",
      headers: {{ "Authorization": `Bearer ${{apiKey}}`, "Content-Type": "application/json" }},
      body: JSON.stringify({{ query: args.query }}),
    }});
    return res.json();
  }},
}});
export const fast = action({{ args: {{}}, handler: async () => ({{ ok: true }}) }});
'''
print(json.dumps({"files": {"server/functions.ts": src}}))
PY
  curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/environments/production/deployments" -d @"$W/deploy.json" >/dev/null
}
cat > "$W/invoke.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{"query":"espn"}}'
LUA
cat > "$W/fast.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
summary() { # label, wrk output
  local rps p50 p99 errors timeouts
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$2")
  p50=$(awk '$1=="50%"{print $2}' <<<"$2")
  p99=$(awk '$1=="99%"{print $2}' <<<"$2")
  errors=$(awk '/Non-2xx/{print $4}' <<<"$2")
  timeouts=$(awk '/Socket errors/{for (i = 1; i <= NF; i++) if ($i == "timeout") print $(i - 1)}' <<<"$2")
  echo "$1: $rps req/s, p50 $p50, p99 $p99, non-2xx ${errors:-0}, timeouts ${timeouts:-0}"
}
rss() { awk '/VmRSS/{print $2 " kB"}' "/proc/$1/status"; }

# 1. The 100 ms API, 64 clients.
start_api 100
deploy "$API"
PEER=$(port)
API="http://127.0.0.1:$API" PORT=$PEER MY_API_KEY=sk-abc123-bench-key-0123456789 node "$W/peer.js" & PIDS+=($!)
wait_up "http://127.0.0.1:$PEER/"
wrk -t2 -c64 -d3s -s "$W/invoke.lua" "$ACTIONS/functions:callExternalApi" >/dev/null # warm-up
lumio_out=$(wrk -t2 -c64 -d${D}s -s "$W/invoke.lua" "$ACTIONS/functions:callExternalApi" --latency --timeout 5s)
node_out=$(wrk -t2 -c64 -d${D}s "http://127.0.0.1:$PEER/" --latency --timeout 5s)
# A fast no-secret action called by one more client while the 64 keep the load on.
wrk -t2 -c64 -d${D}s -s "$W/invoke.lua" "$ACTIONS/functions:callExternalApi" --timeout 5s >/dev/null &
LOAD=$!
sleep 1
fast_out=$(wrk -t1 -c1 -d$((D - 2))s -s "$W/fast.lua" "$ACTIONS/functions:fast" --latency)
wait $LOAD || true
summary "lumio callExternalApi, 100 ms API, 64 clients" "$lumio_out"
summary "node  same job,        100 ms API, 64 clients" "$node_out"
summary "lumio fast action during that load (1 client) " "$fast_out"
echo "lumio server RSS after it: $(rss $SERVER)"

# 2. A 1 s API, 1,000 clients.
start_api 1000
deploy "$API"
wrk -t2 -c1000 -d${D}s -s "$W/invoke.lua" "$ACTIONS/functions:callExternalApi" --latency --timeout 5s >"$W/big.txt" &
LOAD=$!
sleep $((D / 2))
peak=$(rss $SERVER)
wait $LOAD || true
big_out=$(cat "$W/big.txt")
PEER=$(port)
API="http://127.0.0.1:$API" PORT=$PEER MY_API_KEY=sk-abc123-bench-key-0123456789 node "$W/peer.js" & PIDS+=($!)
wait_up "http://127.0.0.1:$PEER/"
node_big=$(wrk -t2 -c1000 -d${D}s "http://127.0.0.1:$PEER/" --latency --timeout 5s)
summary "lumio callExternalApi, 1 s API, 1000 clients " "$big_out"
echo "lumio server RSS during it: $peak"
summary "node  same job,        1 s API, 1000 clients " "$node_big"
