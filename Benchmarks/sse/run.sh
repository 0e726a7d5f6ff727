#!/usr/bin/env bash
# Benchmarks/sse/run.sh — journal-server against nginx + nchan in the same run, with the same load
# tools (../shared/bench/sse_load.c and http_pub.c, compiled into the work directory) and wrk.
#
# Usage: Benchmarks/sse/run.sh [REPS]            (default 1; ~6 min per rep on 2 cores)
#   env SKIP_FANOUT=1 / SKIP_LATENCY=1 / SKIP_PUBLISH=1 / SKIP_RESUME=1 skip a part;
#   FANOUT="1000:1000 10000:100" (N subscribers : M events); WRK_SECONDS (default 10);
#   NCHAN_PORT (default 8089); SHARED_BENCH (default /work/shared/bench); SJ_ARGS (extra server flags).
#
# Workloads, each against both servers:
#   fan-out      N subscribers on one stream/channel, M events from one sequential keep-alive
#                publisher (it waits for each 2xx), delivered events/s, server CPU per event,
#                memory per idle subscriber (PSS after all N are connected, before publishing);
#   latency      1000 subscribers, 50 events/s for 5 s: append-to-delivery p50/p99;
#   publish      wrk POSTs over 1 and 8 keep-alive connections to 1 and 100 streams, plus the
#                sequential http_pub; journal-server both with its default durability (every-ack:
#                a 2xx means fdatasync'd) and with --durability none (nchan keeps messages in memory);
#   resume       disconnect after 5 events, 5 more published, reconnect with Last-Event-ID:
#                exactly events 6..10 on every connection.
# Everything listens on 127.0.0.1 only. Every process started here is stopped by its PID.
# Prints RESULT {json} lines, then a side-by-side table (summarize.py).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHARED="${SHARED_BENCH:-/work/shared/bench}"
REPS="${1:-1}"
WRK_SECONDS="${WRK_SECONDS:-10}"
FANOUT="${FANOUT:-1000:1000 10000:100}"
NCHAN_PORT="${NCHAN_PORT:-8089}"
read -r -a EXTRA_ARGS <<< "${SJ_ARGS:-}"

W="$(mktemp -d /tmp/sj-sse-bench.XXXXXX)"
BIN="$W/bin"
mkdir -p "$BIN" "$W/nchan/tmp"
RESULTS="$W/results.txt"
: > "$RESULTS"
echo "work directory: $W" >&2

# ---------- tools ----------
if ! command -v nginx >/dev/null || [ ! -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || ! command -v wrk >/dev/null; then
  echo "installing nginx-light, libnginx-mod-nchan and wrk" >&2
  apt-get install -y nginx-light libnginx-mod-nchan wrk >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y nginx-light libnginx-mod-nchan wrk >/dev/null; }
fi
gcc -O2 -Wall -o "$BIN/sse_load" "$SHARED/sse_load.c"
gcc -O2 -Wall -o "$BIN/http_pub" "$SHARED/http_pub.c"
(cd "$ROOT" && swift build -c release --product journal-server >&2)
SJ_BINARY="$ROOT/.build/release/journal-server"
ulimit -n "$(ulimit -Hn)"

# ---------- server control (by PID only) ----------
SJ_PID=""
NGINX_PID=""
BASE=""
stop_pid() {  # PID: SIGTERM, wait up to 10 s, then SIGKILL
  local pid=$1
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
stop_servers() { stop_pid "$SJ_PID"; SJ_PID=""; stop_pid "$NGINX_PID"; NGINX_PID=""; }
trap stop_servers EXIT

start_sj() {  # extra flags...
  stop_servers
  rm -f "$W"/journal.sj*
  "$SJ_BINARY" --port 0 --file "$W/journal.sj" "${EXTRA_ARGS[@]}" "$@" > "$W/sj.out" 2> "$W/sj.err" &
  SJ_PID=$!
  for _ in $(seq 200); do grep -q "listening on" "$W/sj.out" 2>/dev/null && break; sleep 0.05; done
  local port; port=$(grep -o 'http://127.0.0.1:[0-9]*' "$W/sj.out" | head -1 | cut -d: -f3)
  [ -n "$port" ] || { echo "journal-server did not start: $(cat "$W/sj.err")" >&2; exit 1; }
  BASE="http://127.0.0.1:$port"
}
start_nchan() {
  stop_servers
  sed -e "s#@DIR@#$W/nchan#g" -e "s#@PORT@#$NCHAN_PORT#g" -e "s#@WORKERS@#2#g" \
    "$SHARED/nchan/nginx.conf.tmpl" > "$W/nchan/nginx.conf"
  : > "$W/nchan/error.log"
  nginx -p "$W/nchan/" -c "$W/nchan/nginx.conf" -e "$W/nchan/error.log" </dev/null >/dev/null 2>&1 &
  NGINX_PID=$!
  BASE="http://127.0.0.1:$NCHAN_PORT"
  for _ in $(seq 100); do curl -sf "$BASE/nchan_status" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "nginx did not start; see $W/nchan/error.log" >&2
  exit 1
}
start_server() {  # journal-server | journal-server-none | nchan
  case "$1" in
    journal-server) start_sj ;;
    journal-server-none) start_sj --durability none ;;
    nchan) start_nchan ;;
  esac
}
server_pids() { if [ -n "$NGINX_PID" ]; then echo "$NGINX_PID $(ps -o pid= --ppid "$NGINX_PID" | tr '\n' ' ')"; else echo "$SJ_PID"; fi; }
pss_kb() { local t=0 p; for p in $(server_pids); do t=$((t + $(awk '/^Pss:/{print $2}' /proc/"$p"/smaps_rollup))); done; echo $t; }
cpu_s() {
  local t=0 p
  for p in $(server_pids); do t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat))); done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t/hz}'
}
# URLs and stream creation for each server
sub_url() { if [ -n "$NGINX_PID" ]; then echo "$BASE/sub/$1"; else echo "$BASE/streams/$1/events"; fi; }
pub_url() { if [ -n "$NGINX_PID" ]; then echo "$BASE/pub/$1"; else echo "$BASE/streams/$1/chunks"; fi; }
prepare() { [ -n "$NGINX_PID" ] || curl -sf -X PUT "$BASE/streams/$1" >/dev/null; }
wait_file() { for _ in $(seq 2400); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
# RESULT line from a tool's RESULT json plus case, server and extra fields (k=v, numbers or strings)
emit() {
  python3 - "$@" <<'PY' | tee -a "$RESULTS"
import json, sys
line, case, server, *extra = sys.argv[1:]
d = json.loads(line[7:]) if line.startswith("RESULT ") else {}
d.update({"case": case, "server": server})
for kv in extra:
    k, v = kv.split("=", 1)
    try:
        d[k] = int(v)
    except ValueError:
        try:
            d[k] = float(v)
        except ValueError:
            d[k] = v
print("RESULT " + json.dumps(d))
PY
}

# ---------- fan-out and latency ----------
fanout_run() {  # SERVER N M RATE CASE
  local server=$1 N=$2 M=$3 RATE=$4 CASE=$5 ch="f$RANDOM$RANDOM"
  start_server "$server"
  prepare "$ch"
  local p0; p0=$(pss_kb)
  local rf="$W/ready"; rm -f "$rf"
  "$BIN/sse_load" --url "$(sub_url "$ch")" -c "$N" --expect "$M" --timeout 180 --ready-file "$rf" --tag "$CASE" > "$W/sse.out" &
  local sp=$!
  wait_file "$rf" || { echo "subscribers not ready" >&2; stop_pid "$sp"; return 1; }
  local pa; pa=$(pss_kb)
  local c0; c0=$(cpu_s)
  local pub; pub=$("$BIN/http_pub" --url "$(pub_url "$ch")" -n "$M" --rate "$RATE" --tag "$CASE")
  wait "$sp" || true
  local c1; c1=$(cpu_s)
  local pubrate; pubrate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1][7:])["msgs_per_s"])' "$pub")
  emit "$(cat "$W/sse.out")" "$CASE" "$server" "pub_msgs_per_s=$pubrate" \
    "server_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}')" \
    "server_cpu_us_per_event=$(awk -v a="$c0" -v b="$c1" -v n="$N" -v m="$M" 'BEGIN{printf "%.3f", (b-a)*1e6/(n*m)}')" \
    "kb_per_subscriber=$(awk -v a="$pa" -v b="$p0" -v n="$N" 'BEGIN{printf "%.2f", (a-b)/n}')" \
    "pss_kb_idle=$p0" "pss_kb_subscribed=$pa"
  stop_servers
}

# ---------- publish throughput ----------
publish_run() {  # SERVER REP
  local server=$1 rep=$2
  start_server "$server"
  for conns in 1 8; do
    for streams in 1 100; do
      local prefix="w${rep}c${conns}s${streams}" url out
      if [ -n "$NGINX_PID" ]; then
        url="$BASE/pub/$prefix"
        out=$(CHANNELS=$([ "$streams" = 1 ] && echo 0 || echo "$streams") wrk -t1 -c"$conns" -d"${WRK_SECONDS}s" --latency -s "$SHARED/nchan/pub.lua" "$url")
      else
        if [ "$streams" = 1 ]; then prepare "$prefix"; else for i in $(seq 0 $((streams - 1))); do prepare "$prefix-$i"; done; fi
        url="$BASE/streams/$prefix/chunks"
        out=$(STREAMS=$([ "$streams" = 1 ] && echo 0 || echo "$streams") PREFIX="$prefix" wrk -t1 -c"$conns" -d"${WRK_SECONDS}s" --latency -s "$HERE/pub_streams.lua" "$url")
      fi
      local rps p50 p99 non2xx
      rps=$(awk '/^Requests\/sec/{print $2}' <<< "$out")
      p50=$(awk '$1=="50%"{print $2}' <<< "$out")
      p99=$(awk '$1=="99%"{print $2}' <<< "$out")
      non2xx=$(awk '/Non-2xx/{print $NF}' <<< "$out")
      emit "" "publish_wrk_c${conns}_s${streams}" "$server" "req_per_s=$rps" "lat_p50=$p50" "lat_p99=$p99" "non2xx=${non2xx:-0}"
    done
  done
  prepare "seq$rep"
  emit "$("$BIN/http_pub" --url "$(pub_url "seq$rep")" -n 20000)" "publish_sequential_1conn" "$server"
  if [ -z "$NGINX_PID" ]; then
    # The batch form (journal-server only): 10 chunks per request, one sync for all of them.
    prepare "b$rep"
    local out rps
    out=$(BATCH=10 PREFIX="b$rep" wrk -t1 -c8 -d"${WRK_SECONDS}s" -s "$HERE/pub_streams.lua" "$BASE/streams/b$rep/batch")
    rps=$(awk '/^Requests\/sec/{print $2}' <<< "$out")
    emit "" "publish_batch10_c8" "$server" "req_per_s=$rps" "chunks_per_s=$(awk -v r="$rps" 'BEGIN{printf "%.0f", r*10}')"
  fi
  stop_servers
}

# ---------- resume with Last-Event-ID ----------
resume_run() {  # SERVER
  local server=$1
  start_server "$server"
  for n in 1 100; do
    local ch="resume$n$RANDOM" rf="$W/ready"; rm -f "$rf"
    prepare "$ch"
    "$BIN/sse_load" --url "$(sub_url "$ch")" -c $n --expect 5 --timeout 20 --ready-file "$rf" > "$W/r1.out" &
    local sp=$!
    wait_file "$rf"
    "$BIN/http_pub" --url "$(pub_url "$ch")" -n 5 --start-seq 1 >/dev/null
    wait "$sp" || true
    local last; last=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read()[7:])["last_id"])' "$W/r1.out")
    "$BIN/http_pub" --url "$(pub_url "$ch")" -n 5 --start-seq 6 >/dev/null
    local out; out=$("$BIN/sse_load" --url "$(sub_url "$ch")" -c $n --expect 5 --expect-first-seq 6 \
      --last-event-id "$last" --linger 1 --timeout 20 || true)
    local verdict; verdict=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1][7:]); print("PASS" if d["ok"] and d["events_per_conn_min"]==5 and d["events_per_conn_max"]==5 and d["first_seq_min"]==6 and d["first_seq_max"]==6 and d["extras"]==0 else "FAIL")' "$out")
    emit "$out" "resume_last_event_id_c$n" "$server" "resumed_from=$last" "verdict=$verdict"
  done
  stop_servers
}

for rep in $(seq "$REPS"); do
  if [ -z "${SKIP_FANOUT:-}" ]; then
    for nm in $FANOUT; do
      for server in journal-server nchan; do
        fanout_run "$server" "${nm%%:*}" "${nm##*:}" 0 "fanout_N${nm%%:*}_M${nm##*:}" || true
      done
    done
  fi
  if [ -z "${SKIP_LATENCY:-}" ]; then
    for server in journal-server nchan; do
      fanout_run "$server" 1000 250 50 "latency_N1000_50per_s" || true
    done
  fi
  if [ -z "${SKIP_PUBLISH:-}" ]; then
    for server in journal-server journal-server-none nchan; do publish_run "$server" "$rep" || true; done
  fi
  if [ -z "${SKIP_RESUME:-}" ]; then
    for server in journal-server nchan; do resume_run "$server" || true; done
  fi
done

echo
python3 "$HERE/summarize.py" < "$RESULTS"
echo
echo "raw results: $RESULTS"
