# Shared shell helpers for the setup, test and demo scripts (sourced, not run).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${SCRNA_CACHE:-$ROOT/.cache}"
export SCRNA_CACHE="$CACHE"
export PATH="$ROOT/scripts/nextflow:$CACHE/venv/bin:$CACHE/tools/bin:$ROOT/node_modules/.bin:$PATH"
# Trace timestamps are rendered in the JVM's zone; fix it so traces parse the same everywhere.
export TZ=UTC

log() { printf '\033[1m[%s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*" >&2; }

# stamp_ok NAME INPUT...: true when the recorded hash of the inputs still matches.
stamp_hash() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
stamp_ok() { local name=$1; shift; [ -f "$CACHE/stamps/$name" ] && [ "$(cat "$CACHE/stamps/$name")" = "$(stamp_hash "$@")" ]; }
stamp_set() { local name=$1; shift; mkdir -p "$CACHE/stamps"; stamp_hash "$@" >"$CACHE/stamps/$name"; }
