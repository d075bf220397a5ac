#!/usr/bin/env bash
# Download benchmark (issue: "Nothing is ever lost"): 60 files of 150 KB from a
# local server that adds 50 ms per request, fetched by `avatar fetch`, by
# `curl --parallel --parallel-max 8` and by sequential curl; then the peak
# memory of `avatar fetch` on one 500 MB result. Needs: cargo, python3, curl,
# GNU time (/usr/bin/time). Usage: bench/downloads/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-7}
PORT=${PORT:-18931}
cargo build --release --quiet
AVATAR=$PWD/target/release/avatar
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
python3 bench/downloads/server.py "$PORT" 50 60 150000 500000000 &
SERVER=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/files/1.jpg" && break; sleep 0.1; done

# A state file that knows one inference per case, as `avatar generate` leaves it.
state() {
  cat >"$1" <<JSON
{"version": 1, "models": [], "inferences": [
 {"id": "$2", "model_id": "m", "prompts": [{"style": "realistic", "count": 60}],
  "status": "ACCEPTED", "created_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}]}
JSON
}
export PICSART_API_KEY=bench
API="--api-url http://127.0.0.1:$PORT/v1 --upload-url http://127.0.0.1:$PORT/tools"
seq 60 | sed "s|.*|http://127.0.0.1:$PORT/files/&.jpg|" >"$WORK/urls"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
time_it() { # name, command...
  local name=$1; shift
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/out" && mkdir -p "$WORK/out"
    state "$WORK/state.json" small
    local t0; t0=$(now)
    "$@" >/dev/null 2>&1
    echo "$(now) - $t0" | bc
  done | median >"$WORK/$name"
  test "$(ls "$WORK/out" | grep -c '\.\(jpg\|bin\)$' || true)" -ge 60 || { echo "$name saved too few files" >&2; exit 1; }
}
time_it avatar "$AVATAR" $API --state "$WORK/state.json" -q fetch small --out "$WORK/out"
time_it curl_parallel bash -c "cd '$WORK/out' && curl -s --parallel --parallel-max 8 --remote-name-all \$(cat '$WORK/urls')"
# Stricter: curl opens its 8 connections at once instead of first probing for multiplexing.
time_it curl_immediate bash -c "cd '$WORK/out' && curl -s --parallel --parallel-immediate --parallel-max 8 --remote-name-all \$(cat '$WORK/urls')"
time_it curl_sequential bash -c "cd '$WORK/out' && curl -s --remote-name-all \$(cat '$WORK/urls')"

a=$(cat "$WORK/avatar"); p=$(cat "$WORK/curl_parallel"); i=$(cat "$WORK/curl_immediate"); s=$(cat "$WORK/curl_sequential")
printf 'medians of %s runs, 60 x 150 KB, 50 ms latency per request\n' "$RUNS"
printf '  avatar fetch (8 at once)        %.3f s\n' "$a"
printf '  curl --parallel --parallel-max 8 %.3f s  (avatar / curl-parallel = %.2fx)\n' "$p" "$(echo "$a / $p" | bc -l)"
printf '  curl --parallel-immediate      %.3f s  (avatar / curl-immediate = %.2fx)\n' "$i" "$(echo "$a / $i" | bc -l)"
printf '  curl sequential                 %.3f s  (sequential / avatar = %.1fx)\n' "$s" "$(echo "$s / $a" | bc -l)"

rm -rf "$WORK/out" && mkdir -p "$WORK/out"
sed 's/"small"/"big"/' <(state /dev/stdout big) >"$WORK/state.json"
/usr/bin/time -v "$AVATAR" $API --state "$WORK/state.json" -q fetch big --out "$WORK/out" 2>"$WORK/time" >/dev/null
size=$(stat -c %s "$WORK/out/big-1.jpg")
rss=$(awk -F: '/Maximum resident set size/ {print $2}' "$WORK/time")
printf 'one 500 MB result: %s bytes saved, peak RSS %.1f MB\n' "$size" "$(echo "$rss / 1024" | bc -l)"
