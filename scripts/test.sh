#!/usr/bin/env bash
# The README's test command: set up, lint, type-check, start a real PostgreSQL, run every tap suite.
# Extra arguments are passed to tap (e.g. `make test ARGS=test/api`).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$ROOT/scripts/pg.sh"
cd "$ROOT"
bash scripts/setup.sh

log "lint"; npx biome check .
log "typecheck"; npm run -s typecheck

pg_start
trap pg_stop EXIT
mkdir -p test-artifacts
log "tap"
npx tap "$@"
