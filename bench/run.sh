#!/usr/bin/env bash
# `make bench ARGS="<name> [args]"`: runs one benchmark after setup; each prints JSON with its baseline.
#   integrate [--cells N ...]   INTEGRATE vs a plain scanpy script (bench/integrate.py)
#   trace-import                trace import of 1,000,000 rows vs psql \copy (BENCH_ROWS)
#   events                      event ingest vs a bare 204 route (autocannon)
#   tasks                       task table of a 100,000-task run: 50 clients and one, with and without the indexes
#   plugin [tasks]              nf-scrna delivery rate per batch size and added wall time
#   ui [cells]                  1,000,000 cells in headless Chromium: bytes/cell, first frame, recolour, pan
#   timeline [tasks]            a 100,000-task run's Timeline tab in headless Chromium: first paint, hover
#   cells-arrow [cells]         the API's per-cell Arrow encoder: bytes/cell vs 4-byte dictionary indices
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
name=${1:-}
[ $# -gt 0 ] && shift
bash scripts/setup.sh >&2
case "$name" in
  integrate) exec "$CACHE/venv/bin/python" bench/integrate.py "$@" ;;
  trace-import | events | timeline) exec bash "bench/$name.sh" "$@" ;;
  plugin | ui | cells-arrow) exec npx tsx "bench/$name.ts" "$@" ;;
  trace-import | events | tasks) exec bash "bench/$name.sh" "$@" ;;
  plugin | ui) exec npx tsx "bench/$name.ts" "$@" ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
