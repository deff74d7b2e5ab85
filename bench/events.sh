#!/usr/bin/env bash
# Event ingest benchmark (JSON on stdout): bench/events.ts on a throw-away PostgreSQL. BENCH_SECONDS, BENCH_CONNECTIONS override.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
. "$ROOT/scripts/pg.sh"
cd "$ROOT"
pg_start
trap pg_stop EXIT
npx tsx bench/events.ts
