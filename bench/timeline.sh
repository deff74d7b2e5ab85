#!/usr/bin/env bash
# Timeline benchmark (JSON on stdout): bench/timeline.ts on a throw-away PostgreSQL. Argument: tasks (100,000).
# BENCH_BASELINE_UI=<ui/build of the old renderer> adds it as a second baseline.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
. "$ROOT/scripts/pg.sh"
cd "$ROOT"
pg_start
trap pg_stop EXIT
${BENCH_NODE:-npx tsx} bench/timeline.ts "$@"
