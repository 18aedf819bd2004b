#!/usr/bin/env bash
# Lumio beside its peers on the same two handlers, one after another in one run, under
# the same wrk load (POST {"args":{}}, keep-alive, loopback):
#   noop:   Lumio's no-op action; Node.js and workerd answer {"value":{"ok":true}};
#   secret: Lumio's action reading one secret (audited, durable in PostgreSQL before the
#           answer); Node.js reads process.env.API_KEY, workerd a secret binding
#           (env.API_KEY); each answers the value's length.
# Lumio runs on a fresh PostgreSQL database (created here, dropped on exit), Node.js as one
# plain `node` process (no packages), workerd through ../shared/bench/peer-workerd.sh.
# Prints one line per figure (req/s, p99), then the ratios. docs/benchmarks.md keeps them.
#   bench/peers.sh [SECONDS] [CONNECTIONS]      (defaults 10, 32; wrk -t2)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust; LUMIO_BENCH_POSTGRES overrides), node, npm
# (workerd installs into a cache folder once), wrk (installed if missing), python3, curl,
# setsid; LUMIO_PEER_WORKERD names another peer script (a path from the repository root).
set -euo pipefail
export LC_ALL=C
D=${1:-10}
C=${2:-32}
die() { echo "peers.sh: $*" >&2; exit 1; }
[[ $D =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$D'"
[[ $C =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, not '$C'"
cd "$(dirname "$0")/.."
PEER_WORKERD=${LUMIO_PEER_WORKERD:-../shared/bench/peer-workerd.sh}
[ -f "$PEER_WORKERD" ] || die "workerd peer script not found: $PEER_WORKERD"
for tool in node npm psql curl python3; do
  command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done
if ! command -v wrk >/dev/null; then
  { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null || die "wrk is missing and could not be installed"
fi
PG=${LUMIO_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
psql -q "$PG/postgres" -c "SELECT 1" >/dev/null 2>&1 || die "PostgreSQL does not answer at $PG"

cargo build --release -q -p lumio || die "cargo build --release -p lumio failed"
BIN="${CARGO_TARGET_DIR:-target}/release/lumio"
[ -x "$BIN" ] || die "no lumio binary at $BIN"

W=$(mktemp -d)
DB=lumio_peers_$$
DB_CREATED=
SERVER=
NODE=
PEER=
WRK=
stop() { # pid, or nothing: the process is stopped and reaped
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  # The workerd peer runs in its own process group: stop it, its wrk and its workerd.
  if [ -n "$PEER" ]; then kill -TERM -- "-$PEER" 2>/dev/null || true; wait "$PEER" 2>/dev/null || true; fi
  stop "$WRK"
  stop "$SERVER"
  stop "$NODE"
  if [ -n "$DB_CREATED" ]; then
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
wait_ready() { # name, pid, log file, command...: up to 30 s for the command to succeed
  local name=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "peers.sh: $name exited before it was ready; its log ends:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  echo "peers.sh: $name was not ready after 30 s; its log ends:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

cat >"$W/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"args":{}}'
LUA
# wrk runs in the background and is waited for: wrk catches SIGINT and exits cleanly, and
# a shell waiting in the foreground on such a command skips its own INT trap (Ctrl-C
# would then only cut one measurement short); `wait` returns at once on the signal.
load() { # seconds, URL, report file
  wrk -t2 -c"$C" -d"$1s" --latency -s "$W/post.lua" "$2" >"$3" 2>&1 &
  WRK=$!
  wait "$WRK" || true
  WRK=
}
# Figures, by key: RPS[lumio_noop], P99[lumio_noop], ...
declare -A RPS P99 NOTE
measure() { # key, URL: a measured wrk run, its figures recorded under key
  local out=$W/wrk-$1.txt rps p99 bad errors
  load "$D" "$2" "$out"
  rps=$(awk '/Requests\/sec/{print $2}' "$out")
  p99=$(awk '$1=="99%"{print $2}' "$out")
  bad=$(awk '/Non-2xx/{print $5}' "$out")
  errors=$(awk '/Socket errors/{sub(/^ *Socket errors: */, ""); print}' "$out")
  [ -n "$rps" ] || { cat "$out" >&2; die "no rate in wrk's report for $1 ($2)"; }
  RPS[$1]=$rps
  P99[$1]=$p99
  NOTE[$1]="${bad:+, non-2xx $bad}${errors:+, socket errors: $errors}"
}
post() { # URL: the answer's body, failing on an HTTP error
  curl -fsS -X POST -H "Content-Type: application/json" -d '{"args":{}}' "$1"
}

# --- Lumio on PostgreSQL -------------------------------------------------------------
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null || die "could not create database $DB"
DB_CREATED=1
PORT=$(free_port)
ADMIN="lumio_bench_admin_$RANDOM$RANDOM"
# The peers limit nothing, so neither does Lumio here: no per-extension call rate, and
# room for every connection in flight on one action (which may hold half of its
# extension's share).
INFLIGHT=$((4 * C > 2048 ? 4 * C : 2048))
LUMIO_BOOTSTRAP_TOKEN=$ADMIN LUMIO_LOG=warn "$BIN" server \
  --listen "127.0.0.1:$PORT" --data-dir "$W/data" --database-url "$PG/$DB" \
  --client-rate-limit 0 --max-inflight-actions "$INFLIGHT" --max-inflight-per-extension "$INFLIGHT" \
  >"$W/lumio.log" 2>&1 &
SERVER=$!
URL=http://127.0.0.1:$PORT
wait_ready lumio "$SERVER" "$W/lumio.log" curl -fs "$URL/healthz"
auth=(-H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json")
# The extension's owner sets the secret and deploys, as a customer would.
CODE=$(curl -fsS "${auth[@]}" -X POST "$URL/api/v1/extensions" -d '{"name":"bench"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["claim_code"])') || die "could not create the extension"
TOKEN=$(curl -fsS -H "Content-Type: application/json" -X POST "$URL/api/v1/claims" -d "{\"code\":\"$CODE\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') || die "could not claim the extension"
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
ENV=/api/v1/extensions/bench/environments/production
SECRET_VALUE=sk-abc123-bench-key-0123456789
# The same two actions as bench/load.sh.
cat >"$W/deploy.json" <<'JSON'
{"files": {"server/functions.ts": "import { action, v } from \"@zaflun/lumio-sdk/server\";\nexport const readOne = action({\n  args: {},\n  handler: async (ctx) => {\n    const key = ctx.secrets.get(\"MY_API_KEY\");\n    if (!key) { throw new Error(\"MY_API_KEY is not configured\"); }\n    return { configured: true, length: key.length };\n  },\n});\nexport const noop = action({ args: {}, handler: async () => null });\n"}}
JSON
curl -fsS "${auth[@]}" -X PUT "$URL$ENV/secrets/MY_API_KEY" -d "{\"value\":\"$SECRET_VALUE\"}" >/dev/null ||
  die "could not set MY_API_KEY"
curl -fsS "${auth[@]}" -X POST "$URL$ENV/deployments" -d @"$W/deploy.json" >/dev/null || die "could not deploy the actions"
LUMIO_NOOP=$URL$ENV/actions/functions:noop
LUMIO_SECRET=$URL$ENV/actions/functions:readOne
post "$LUMIO_NOOP" >/dev/null || die "Lumio's no-op action does not answer"
grep -q "\"length\":${#SECRET_VALUE}" <<<"$(post "$LUMIO_SECRET")" || die "Lumio's readOne action does not answer the secret's length"
load 2 "$LUMIO_SECRET" /dev/null # warm-up, not reported
load 2 "$LUMIO_NOOP" /dev/null
measure lumio_noop "$LUMIO_NOOP"
measure lumio_secret "$LUMIO_SECRET"
stop "$SERVER"
SERVER=

# --- Node.js: one process, the same two handlers ---------------------------------------
cat >"$W/server.js" <<'JS'
const http = require("http");
http.createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", () => {
    let out;
    try {
      const args = JSON.parse(body).args;
      if (req.url === "/secret") {
        const key = process.env.API_KEY;
        out = { value: { len: key.length, args } };
      } else if (req.url === "/noop") {
        out = { value: { ok: true } };
      } else {
        res.writeHead(404).end();
        return;
      }
    } catch {
      res.writeHead(400).end();
      return;
    }
    const text = JSON.stringify(out);
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
JS
PORT=$(free_port)
PORT=$PORT API_KEY=$SECRET_VALUE node "$W/server.js" >"$W/node.log" 2>&1 &
NODE=$!
URL=http://127.0.0.1:$PORT
wait_ready node "$NODE" "$W/node.log" post "$URL/noop"
grep -q "\"len\":${#SECRET_VALUE}" <<<"$(post "$URL/secret")" || die "Node.js's /secret does not answer the secret's length"
load 2 "$URL/noop" /dev/null # warm-up, not reported
measure node_noop "$URL/noop"
measure node_secret "$URL/secret"
stop "$NODE"
NODE=

# --- workerd, through the shared peer script ----------------------------------------------
# Its own process group, so that cleanup stops its wrk and workerd too.
setsid bash "$PEER_WORKERD" "$D" "$C" >"$W/workerd.out" 2>&1 &
PEER=$!
wait "$PEER" || { cat "$W/workerd.out" >&2; die "the workerd peer script failed"; }
PEER=
WRK=
for h in noop secret; do
  line=$(awk -v h="$h" '$1=="workerd" && $2==h' "$W/workerd.out")
  rps=$(awk '{for (i = 2; i <= NF; i++) if ($i == "req/s,") print $(i - 1)}' <<<"$line")
  p99=$(awk '{for (i = 2; i <= NF; i++) if ($i == "p99") print $(i + 1)}' <<<"$line")
  if [[ ! $rps =~ ^[0-9.]+$ ]] || [[ $rps =~ ^0*\.?0*$ ]]; then
    cat "$W/workerd.out" >&2
    die "no workerd $h rate in the peer script's output (did workerd start?)"
  fi
  RPS[workerd_$h]=$rps
  P99[workerd_$h]=$p99
  NOTE[workerd_$h]=
done

# --- Report -------------------------------------------------------------------------------
line() { # key, label
  printf '%-54s %8.0f req/s, p99 %s%s\n' "$2:" "${RPS[$1]}" "${P99[$1]}" "${NOTE[$1]}"
}
echo "wrk -t2 -c$C, ${D} s each, POST {\"args\":{}}, one server at a time"
line lumio_noop "lumio   no-op action"
line lumio_secret "lumio   action reading 1 secret (PostgreSQL, audited)"
line node_noop "node    noop   (1 process)"
line node_secret "node    secret (1 process, process.env)"
line workerd_noop "workerd noop   (1 process)"
line workerd_secret "workerd secret (1 process, secret binding)"
ratio() { awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" 'BEGIN{printf "%.2f", a/b}'; }
verdict() { # ratio, target
  awk -v r="$1" -v t="$2" 'BEGIN{print (r >= t ? "met" : "not met")}'
}
r=$(ratio lumio_noop workerd_noop)
echo "ratio lumio no-op / workerd noop:                  ${r}x (target >= 1.0x: $(verdict "$r" 1.0))"
r=$(ratio lumio_secret workerd_secret)
echo "ratio lumio audited secret / workerd secret:       ${r}x (target >= 0.8x: $(verdict "$r" 0.8))"
echo "ratio lumio no-op / node noop:                     $(ratio lumio_noop node_noop)x"
echo "ratio lumio audited secret / node secret:          $(ratio lumio_secret node_secret)x"
