#!/usr/bin/env bash
# The whole test suite: ruff, mypy --strict, the import-linter layer contracts (pyproject.toml), then pytest (pure + integration tiers; e2e with --e2e, the real
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
echo "==> import-linter (the layers in pyproject.toml)"
lint-imports
echo "==> pytest"
if [ "${1:-}" = "--flink-client" ]; then
  shift
  exec pytest -m flink_client "$@"
fi
if [ "${1:-}" = "--e2e" ]; then
  shift
  exec pytest -m e2e "$@"
fi
# Two workers: most integration tests wait on daemons' heartbeats and start-ups rather than compute, so two
# run side by side on two cores (each worker starts its own redis-server). MINIYARN_TEST_WORKERS=0 runs serially.
# --durations: the slowest tests named in every run, so the 10-minute budget is watched.
exec pytest -n "${MINIYARN_TEST_WORKERS:-2}" --durations=15 "$@"
