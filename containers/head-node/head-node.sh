#!/bin/sh
# Entrypoint of the Nextflow head job (the API's Batch launcher submits `scrna-head-node nextflow run ...`):
# fetches the run's staged params.json and the Nextflow history from its S3 launch prefix ($SCRNA_LAUNCH_DIR),
# runs the command, then saves .nextflow.log (the log source's fallback when the CloudWatch stream is gone) and
# the history (so a relaunch's -resume finds the session) back to the prefix. Exits with the command's status.
# S3 is reached through Nextflow's own file-system commands (nf-amazon), so the image needs no AWS CLI.
set -u
: "${SCRNA_LAUNCH_DIR:?SCRNA_LAUNCH_DIR is the run's s3:// launch prefix}"
cd "${SCRNA_WORK:-/work}" || exit 1
mkdir -p .nextflow
nextflow fs cp "$SCRNA_LAUNCH_DIR/params.json" params.json || { echo "cannot fetch $SCRNA_LAUNCH_DIR/params.json" >&2; exit 1; }
# Absent on a run's first head job.
nextflow fs cp "$SCRNA_LAUNCH_DIR/nextflow-history" .nextflow/history 2>/dev/null || true
"$@"
status=$?
[ -f .nextflow.log ] && nextflow fs cp .nextflow.log "$SCRNA_LAUNCH_DIR/.nextflow.log"
[ -f .nextflow/history ] && nextflow fs cp .nextflow/history "$SCRNA_LAUNCH_DIR/nextflow-history"
exit "$status"
