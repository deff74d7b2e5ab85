#!/usr/bin/env bash
# Builds the nf-scrna Nextflow plugin with Maven and installs it where Nextflow loads plugins from offline:
# $NXF_HOME/plugins/nf-scrna-<version>/classes (compiled classes + META-INF/MANIFEST.MF + extensions.idx) and lib/.
# Skipped when the sources and the POM are unchanged since the last install.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

project=workflows/plugins/nf-scrna
version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$project/pom.xml" | head -1)
dest="$CACHE/nextflow/home/plugins/nf-scrna-$version"
mapfile -t inputs < <(find "$project/pom.xml" "$project/src" -type f | LC_ALL=C sort)

if stamp_ok nf-scrna "${inputs[@]}" && [ -f "$dest/classes/META-INF/MANIFEST.MF" ]; then
  exit 0
fi
log "building the nf-scrna $version Nextflow plugin"
# Offline first (the Nextflow closure is already in the local Maven repo); online only to fetch missing build plugins.
rm -rf "$project/target"
mvn -q -B -o -Dstyle.color=never -f "$project/pom.xml" compile >/dev/null 2>&1 ||
  mvn -q -B -Dstyle.color=never -f "$project/pom.xml" compile
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/lib"
cp -R "$project/target/classes" "$dest.tmp/classes"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
stamp_set nf-scrna "${inputs[@]}"
