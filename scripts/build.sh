#!/usr/bin/env bash
# Builds the UI bundle (ui/build, served by the API at /) when its sources or the lock file changed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# The UI's API types come from the API's route schemas (before the input list, so the stamp sees them).
npx tsx scripts/gen-api-types.ts

mapfile -t ui_inputs < <(find ui/src ui/static ui/package.json ui/svelte.config.js ui/vite.config.ts ui/tsconfig.json -type f 2>/dev/null | LC_ALL=C sort)
# The file list is hashed too, so a rename or deletion also triggers a build.
if ! stamp_ok ui package-lock.json "${ui_inputs[@]}" <(printf '%s\n' "${ui_inputs[@]}") || [ ! -f ui/build/index.html ]; then
  log "building the UI (ui/build)"
  npm run -s build -w ui >"$CACHE/ui-build.log" 2>&1 || { cat "$CACHE/ui-build.log" >&2; exit 1; }
  stamp_set ui package-lock.json "${ui_inputs[@]}" <(printf '%s\n' "${ui_inputs[@]}")
fi
