#!/usr/bin/env bash
# The embedded demo, end to end with no Docker: a mini-YARN (redis-server, a ResourceManager and two
# NodeManagers as local processes), Flink's word count submitted as a per-job cluster (-p 4, 2 slots per
# TaskManager: the JobManager asks YARN for exactly 2 TaskManager containers), and the counts read back
# from the TaskManagers' stdout with `miniyarn logs`.
#
#   bash scripts/demo.sh          # run it and stop everything
#   bash scripts/demo.sh --keep   # leave the cluster up afterwards (Ctrl-C stops it)
#
# RM_PORT (default 8088) and REDIS_PORT (default 6390, a Redis of its own) pick the ports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
RM_PORT="${RM_PORT:-8088}"
REDIS_PORT="${REDIS_PORT:-6390}"
export MINIYARN_RM_ADDRESS="http://127.0.0.1:$RM_PORT"
export MINIYARN_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
WORK="$(mktemp -d -t miniyarn-demo-XXXXXX)"

echo "==> miniyarn minicluster --nodemanagers 2 (logs: $WORK/minicluster.log)"
setsid miniyarn minicluster --nodemanagers 2 --port "$RM_PORT" --redis-url "$MINIYARN_REDIS_URL" \
  --credentials-dir "$WORK/credentials" -D yarn.scheduler.minimum-allocation-mb=256 >"$WORK/minicluster.log" 2>&1 &
MC=$!
stop() {
  kill -TERM "$MC" 2>/dev/null || true
  wait "$MC" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT
for _ in $(seq 1 100); do
  grep -q "Press Ctrl-C" "$WORK/minicluster.log" 2>/dev/null && break
  kill -0 "$MC" 2>/dev/null || { cat "$WORK/minicluster.log" >&2; echo "the minicluster did not start" >&2; exit 1; }
  sleep 0.1
done
grep -v "^export" "$WORK/minicluster.log" || true
miniyarn node -list

echo
echo "==> miniflink run -t yarn-per-job -p 4 -D taskmanager.numberOfTaskSlots=2 -py examples/wordcount.py"
miniflink run -t yarn-per-job -p 4 -D taskmanager.numberOfTaskSlots=2 \
  -D jobmanager.memory.process.size=512m -D taskmanager.memory.process.size=512m -py examples/wordcount.py

APP="$(miniyarn application -list -appStates ALL | awk '$3 == "Apache" || /Apache Flink/ {print $1}' | grep '^application_' | tail -n 1)"
echo
echo "==> miniyarn application -status $APP"
miniyarn application -status "$APP"
echo
echo "==> miniyarn logs -applicationId $APP -log_files taskmanager.out   (the word counts, from each TaskManager)"
miniyarn logs -applicationId "$APP" -log_files taskmanager.out

if [ "${1:-}" = "--keep" ]; then
  echo
  echo "The cluster is still up: ResourceManager UI $MINIYARN_RM_ADDRESS/cluster  (Ctrl-C stops it)"
  echo "  export MINIYARN_RM_ADDRESS=$MINIYARN_RM_ADDRESS MINIYARN_REDIS_URL=$MINIYARN_REDIS_URL"
  wait "$MC"
fi
