#!/usr/bin/env bash
# After a burst, does the server give memory and connections back (issue 23), and what
# does one call in flight cost?
#   bench/memory-burst.sh [LUMIO_BINARY] [CALLS] [CLIENTS] [IDLE_SECONDS]
#   (defaults: the release build, 5000, 2000, 100)
# Deploys the seed's callExternalApi against a loopback API answering after DELAY_MS
# (default 2000), fires CALLS calls from CLIENTS concurrent clients, then idles. Prints
# the server's RSS idle before the burst, its peak during it and that peak's rise per
# client (with CALLS = CLIENTS and a DELAY_MS longer than the ramp-up, every call is
# parked at once: the memory per parked invocation), RSS at its end and during the idle
# time, and the connections from the server to the API still open. HANDLER=timer deploys
# an action awaiting a timer of DELAY_MS instead of the fetch (the difference is what
# the fetch costs). Needs node and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
CALLS=${2:-5000}
CLIENTS=${3:-2000}
IDLE=${4:-100}
if [ -z "$BIN" ]; then
  cargo build --release -q -p lumio
  BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
fi
W=$(mktemp -d)
ulimit -n 65536 2>/dev/null || true
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
port() { echo $((20000 + RANDOM % 12000)); }
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
rss() { awk '/VmRSS/{printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }
# Established connections from the server to the API (the API's side of each).
to_api() { ss -Htn state established "( sport = :$API )" | wc -l; }

cat > "$W/api.js" <<'JS'
const http = require("http");
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ results: ["a", "b"] }));
  }, Number(process.env.DELAY_MS)));
});
server.keepAliveTimeout = 600000; // the client decides when an idle connection closes
server.listen(Number(process.env.PORT), "127.0.0.1", 4096);
JS
cat > "$W/burst.js" <<'JS'
// CALLS calls, CLIENTS at a time, each on its own connection; prints failures.
const http = require("http");
const [url, calls, clients] = [process.env.URL, Number(process.env.CALLS), Number(process.env.CLIENTS)];
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const body = JSON.stringify({ args: { query: "espn" } });
let next = 0, failed = 0;
const one = () => new Promise((done) => {
  const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
    res.resume();
    res.on("end", () => { if (res.statusCode !== 200) failed++; done(); });
  });
  req.on("error", () => { failed++; done(); });
  req.end(body);
});
const client = async () => { while (next++ < calls) await one(); };
Promise.all(Array.from({ length: clients }, client)).then(() => {
  console.log(`${calls} calls, ${failed} failed`);
  agent.destroy();
});
JS

API=$(port)
DELAY_MS=${DELAY_MS:-2000} PORT=$API node "$W/api.js" & PIDS+=($!)
wait_up "http://127.0.0.1:$API/"
PORT=$(port)
TOKEN="lumio_bench_admin_$RANDOM$RANDOM"
# Slots for every client: the burst measures memory, not the bounds (an action may hold
# half of its extension's slots, an extension by default a quarter of the server's).
SLOTS=$(( CLIENTS * 2 > 4096 ? CLIENTS * 2 : 4096 ))
LUMIO_BOOTSTRAP_TOKEN=$TOKEN LUMIO_LOG=warn "$BIN" server --allow-private-fetch \
  --max-inflight-actions $SLOTS --max-inflight-per-extension $SLOTS \
  --listen 127.0.0.1:$PORT --data-dir "$W/data" >"$W/server.log" 2>&1 &
SERVER=$!; PIDS+=($SERVER)
URL=http://127.0.0.1:$PORT
wait_up "$URL/healthz"
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' >/dev/null
curl -fs "${auth[@]}" -X PUT "$URL/api/v1/extensions/bench/environments/production/secrets/MY_API_KEY" \
  -d '{"value":"sk-abc123-bench-key-0123456789"}' >/dev/null
python3 - "$API" "${HANDLER:-fetch}" "${DELAY_MS:-2000}" > "$W/deploy.json" <<'PY'
import json, sys
timer = '''import { action, v } from "@zaflun/lumio-sdk/server";
export const callExternalApi = action({
  args: { query: v.string() },
  handler: async (ctx, args) => {
    const apiKey = ctx.secrets.get("MY_API_KEY");
    await new Promise((done) => setTimeout(done, args.query === "warm" ? 0 : DELAY_MS));
    return { results: ["a", "b"], keyLength: apiKey.length };
  },
});
'''.replace("DELAY_MS", sys.argv[3])
src = f'''import {{ action, v }} from "@zaflun/lumio-sdk/server";
export const callExternalApi = action({{
  args: {{ query: v.string() }},
  handler: async (ctx, args) => {{
    const apiKey = ctx.secrets.get("MY_API_KEY");
    const res = await ctx.fetch("http://127.0.0.1:{sys.argv[1]}/search", {{
      method: "POST",
      headers: {{ "Authorization": `Bearer ${{apiKey}}`, "Content-Type": "application/json" }},
      body: JSON.stringify({{ query: args.query }}),
    }});
    return res.json();
  }},
}});
'''
print(json.dumps({"files": {"server/functions.ts": timer if sys.argv[2] == "timer" else src}}))
PY
curl -fs "${auth[@]}" -X POST "$URL/api/v1/extensions/bench/environments/production/deployments" \
  -d @"$W/deploy.json" >/dev/null
ACTION=$URL/api/v1/extensions/bench/environments/production/actions/functions:callExternalApi
curl -fs -X POST -H "Content-Type: application/json" -d '{"args":{"query":"warm"}}' "$ACTION" >/dev/null
sleep 2
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
idle_kb=$(rss_kb $SERVER)
echo "idle before the burst: RSS $(rss $SERVER), connections to the API $(to_api)"
start=$(date +%s)
# The peak, sampled every 0.1 s while the burst runs.
( peak=0; while [ ! -e "$W/done" ]; do
    r=$(rss_kb $SERVER); [ "$r" -gt "$peak" ] && peak=$r && echo $peak >"$W/peak"; sleep 0.1
  done ) & PIDS+=($!)
URL=$ACTION CALLS=$CALLS CLIENTS=$CLIENTS node "$W/burst.js"
touch "$W/done"; sleep 0.3
peak_kb=$(cat "$W/peak")
echo "peak RSS during the burst: $(( peak_kb / 1024 )) MB, $(( (peak_kb - idle_kb) / CLIENTS )) KB per client above idle"
echo "burst took $(( $(date +%s) - start )) s; at its end: RSS $(rss $SERVER), connections to the API $(to_api)"
for t in 5 30 60 "$IDLE"; do
  { [ "$t" -le "$IDLE" ] && [ "$t" -gt "${last:-0}" ]; } || continue
  sleep $(( t - ${last:-0} )); last=$t
  echo "idle ${t} s after it: RSS $(rss $SERVER), connections to the API $(to_api)"
done
