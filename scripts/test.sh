#!/usr/bin/env bash
# The whole test suite: ruff, mypy --strict, then pytest (pure + integration tiers; e2e with --e2e, the real
# Flink client tier with --flink-client: both need what .ci/run installs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
echo "==> ruff"
ruff check .
echo "==> mypy --strict"
mypy
echo "==> pytest"
if [ "${1:-}" = "--flink-client" ]; then
  shift
  exec pytest -m flink_client "$@"
fi
if [ "${1:-}" = "--e2e" ]; then
  shift
  exec pytest -m e2e "$@"
fi
exec pytest "$@"
