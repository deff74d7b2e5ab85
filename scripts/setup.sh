#!/usr/bin/env bash
# Idempotent setup shared by `make demo` and `make test`. Every step checks whether its
# result is already in place (by command presence or by a hash of its inputs) and skips.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
mkdir -p "$CACHE"
# One setup at a time: concurrent test runs share the cache.
exec 9>"$CACHE/setup.lock"
flock 9

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: STAR, PostgreSQL server, Java 17 + Maven, Chromium for browser tests.
need=()
command -v STAR >/dev/null || need+=(rna-star)
[ -x "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1)" ] || need+=(postgresql)
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
command -v chromium >/dev/null || need+=(chromium)
command -v python3 >/dev/null || need+=(python3 python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Nextflow runtime from Maven Central, pinned by scripts/nextflow/pom.xml.
if ! stamp_ok nextflow scripts/nextflow/pom.xml || [ ! -f "$CACHE/nextflow/lib/.complete" ]; then
  log "resolving Nextflow from Maven (scripts/nextflow/pom.xml)"
  rm -rf "$CACHE/nextflow/lib"
  mvn -q -B -f scripts/nextflow/pom.xml dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$CACHE/nextflow/lib"
  touch "$CACHE/nextflow/lib/.complete"
  stamp_set nextflow scripts/nextflow/pom.xml
fi
mkdir -p "$CACHE/nextflow/home/plugins"

# 3. Platform's Nextflow plugin(s), built against the same Nextflow and installed offline.
if [ -x scripts/build-plugins.sh ]; then
  bash scripts/build-plugins.sh
fi

# 4. Python virtualenv with the pinned analysis stack.
if ! stamp_ok venv workflows/requirements.txt || [ ! -x "$CACHE/venv/bin/python" ]; then
  log "creating Python virtualenv ($CACHE/venv) from workflows/requirements.txt"
  rm -rf "$CACHE/venv"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q -r workflows/requirements.txt
  stamp_set venv workflows/requirements.txt
fi

# 5. Test tools (cfn-lint, moto server) in their own venv, apart from the analysis pins.
if ! stamp_ok tools scripts/requirements-tools.txt || [ ! -x "$CACHE/tools/bin/python" ]; then
  log "creating tools virtualenv ($CACHE/tools)"
  rm -rf "$CACHE/tools"
  python3 -m venv "$CACHE/tools"
  "$CACHE/tools/bin/pip" install -q -r scripts/requirements-tools.txt
  stamp_set tools scripts/requirements-tools.txt
fi

# 6. npm dependencies from the committed lock file (npm ci on a fresh clone; an existing
#    node_modules is reconciled in place so a running process keeps its modules).
if ! stamp_ok npm package-lock.json || [ ! -d node_modules ]; then
  log "installing npm dependencies"
  if [ -d node_modules ]; then npm install --no-audit --no-fund --loglevel=error; else npm ci --no-audit --no-fund --loglevel=error; fi
  stamp_set npm package-lock.json
fi

# 7. Build steps the workspaces declare (UI bundle, API, ...), skipped when unchanged.
if [ -f scripts/build.sh ]; then
  bash scripts/build.sh
fi
log "setup complete"
