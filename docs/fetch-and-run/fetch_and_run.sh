#!/bin/sh
# fetch_and_run: download a script (or a zip holding scripts) from S3 and run it, with the same contract as the
# fetch-and-run image of the AWS Batch documentation (awslabs/aws-batch-helpers):
#   BATCH_FILE_TYPE=script  BATCH_FILE_S3_URL=s3://bucket/myjob.sh   fetch_and_run.sh SCRIPT-NAME [ARGS...]
#   BATCH_FILE_TYPE=zip     BATCH_FILE_S3_URL=s3://bucket/myjob.zip  fetch_and_run.sh SCRIPT-IN-ZIP [ARGS...]
# Credentials come from the job role (the container credentials endpoint openbatch serves); nothing else is needed.
# Set KEEP_BATCH_FILE_CONTENTS=1 to keep the downloaded files (under $TMPDIR, the job's scratch).
set -u
NAME=${0##*/}

usage() {
  [ $# -gt 0 ] && printf '* %s\n\n' "$*" >&2
  cat >&2 <<USAGE
Usage:
  BATCH_FILE_TYPE=script BATCH_FILE_S3_URL=s3://my-bucket/my-script $NAME SCRIPT-NAME [ARGS...]
  BATCH_FILE_TYPE=zip    BATCH_FILE_S3_URL=s3://my-bucket/my-zip    $NAME SCRIPT-IN-ZIP [ARGS...]
USAGE
  exit 2
}
fail() {
  echo "$NAME - $1" >&2
  exit 1
}

[ -n "${BATCH_FILE_TYPE:-}" ] || usage "BATCH_FILE_TYPE not set, unable to determine type (zip/script) of URL ${BATCH_FILE_S3_URL:-}"
[ -n "${BATCH_FILE_S3_URL:-}" ] || usage "BATCH_FILE_S3_URL not set. No object to download."
case "$BATCH_FILE_S3_URL" in s3://*) ;; *) usage "BATCH_FILE_S3_URL must be for an S3 object; expecting URL starting with s3://" ;; esac
command -v aws >/dev/null 2>&1 || fail "Unable to find AWS CLI executable."

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetch_and_run.XXXXXXXX") || fail "Failed to create temp directory."
cleanup() { [ -n "${KEEP_BATCH_FILE_CONTENTS:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT HUP INT QUIT TERM
FILE="$WORK/batch-file-temp"

aws s3 cp "$BATCH_FILE_S3_URL" - >"$FILE" || fail "Failed to download $BATCH_FILE_S3_URL"
case "$BATCH_FILE_TYPE" in
  script)
    # The first argument names the script (as in the AWS original); the rest are its arguments.
    [ $# -gt 0 ] && shift
    chmod u+x "$FILE" || fail "Failed to chmod script."
    "$FILE" "$@"
    ;;
  zip)
    [ $# -gt 0 ] || usage "zip format requires at least one argument - the script to run from inside"
    command -v unzip >/dev/null 2>&1 || fail "Unable to find unzip executable."
    cd "$WORK" && unzip -q "$FILE" || fail "Failed to unpack zip file $BATCH_FILE_S3_URL"
    script="./$1"
    shift
    [ -r "$script" ] || fail "Did not find specified script '$script' in zip from $BATCH_FILE_S3_URL"
    chmod u+x "$script" || fail "Failed to chmod script."
    "$script" "$@"
    ;;
  *) usage "Unsupported value for BATCH_FILE_TYPE. Expected (zip/script)." ;;
esac
