#!/usr/bin/env bash
# Trace import benchmark (JSON on stdout): bench/trace-import.ts on a throw-away PostgreSQL. BENCH_ROWS overrides 1,000,000.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
. "$ROOT/scripts/pg.sh"
cd "$ROOT"
pg_start
trap pg_stop EXIT
PSQL="$(pg_bin)/psql" ${BENCH_NODE:-npx tsx} bench/trace-import.ts
