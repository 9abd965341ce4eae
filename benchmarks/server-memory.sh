#!/bin/bash
# Idle RSS and start-up of samples/Qlaud.Server (Release build, embedded defaults: SQLite, the offline qlaud/echo model,
# local MiniLM embeddings), on a fresh database each run.
#   dotnet build samples/Qlaud.Server -c Release
#   benchmarks/server-memory.sh [label]            # start-up, idle RSS, RSS after one chat completion
#   THREAD=1 benchmarks/server-memory.sh [label]   # and after one thread turn (the search indexer embeds it) and one semantic search
# healthz200: seconds from process start to the first 200 of GET /healthz. RSS: VmRSS of /proc/<pid>/status, 5 s after
# that 200 (idle), 2 s after the chat completion, 2 s after the search.
set -eu
cd "$(dirname "$0")/.."
BIN=samples/Qlaud.Server/bin/Release/net10.0
DIR=$(mktemp -d); PORT=$((18000 + RANDOM % 1000))
export Qlaud__Bootstrap__MasterKey=qlk_live_abcdefghijklmnopqrstuvwxyz0123456789AB
export Qlaud__Storage__ConnectionString="Data Source=$DIR/q.db"
H="Authorization: Bearer $Qlaud__Bootstrap__MasterKey"
rss() { echo $(( $(awk '/VmRSS/{print $2}' /proc/$PID/status) / 1024 ))MB; }
START=$(date +%s.%N)
dotnet $BIN/Qlaud.Server.dll --urls http://127.0.0.1:$PORT >"$DIR/out.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 3000); do
  kill -0 $PID 2>/dev/null || { cat "$DIR/out.log"; exit 1; }
  curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz && break
  sleep 0.02
done
T200=$(echo "$(date +%s.%N) - $START" | bc)
sleep 5; IDLE=$(rss)
curl -sf -o /dev/null -H "$H" -H 'content-type: application/json' \
  -d '{"model":"qlaud/echo","messages":[{"role":"user","content":"hello"}]}' http://127.0.0.1:$PORT/v1/chat/completions
sleep 2; CHAT=$(rss); EXTRA=
if [ -n "${THREAD:-}" ]; then
  TID=$(curl -sf -H "$H" -H 'content-type: application/json' -d '{"end_user_id":"u1","model":"qlaud/echo"}' \
    http://127.0.0.1:$PORT/v1/threads | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -sf -o /dev/null -H "$H" -H 'content-type: application/json' \
    -d '{"max_tokens":64,"tools_mode":"none","content":"Where should I go hiking in May?"}' http://127.0.0.1:$PORT/v1/threads/$TID/messages
  sleep 5
  HITS=$(curl -sf -H "$H" "http://127.0.0.1:$PORT/v1/search?q=mountain%20trip&mode=semantic" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
  sleep 2; EXTRA=" afterEmbeddingRSS=$(rss) semanticHits=$HITS"
fi
echo "${1:-run} healthz200=${T200}s idleRSS=$IDLE afterChatRSS=$CHAT$EXTRA"
