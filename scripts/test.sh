#!/usr/bin/env bash
# Installs everything the tests need (on Debian as root: Debian packages; elsewhere it says what is missing),
# builds, lints and runs the whole suite with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v jq >/dev/null || need_pkgs+=(jq)
[ -x /usr/bin/aws ] || need_pkgs+=(awscli)
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "test.sh: missing: ${need_pkgs[*]}. Install them (Debian: apt-get install ${need_pkgs[*]}) and run again." >&2
    exit 1
  fi
fi
missing=()
command -v aws >/dev/null || missing+=("aws CLI v1 (pip install awscli)")
python3 -c 'import boto3' 2>/dev/null || missing+=("boto3 (pip install boto3)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: missing: ${missing[*]}" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run build
fi
npm run lint
export CI="${CI:-true}"
node --test --test-concurrency=2 --test-timeout=300000 dist/test/
