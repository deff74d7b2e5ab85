#!/usr/bin/env bash
# Task table benchmark (JSON on stdout): bench/tasks.ts on a throw-away PostgreSQL. BENCH_TASKS, BENCH_CLIENTS, BENCH_SECONDS override.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
. "$ROOT/scripts/pg.sh"
cd "$ROOT"
pg_start
trap pg_stop EXIT
npx tsx bench/tasks.ts
