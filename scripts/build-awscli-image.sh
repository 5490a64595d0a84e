#!/bin/sh
# Builds, without a registry, a Debian (trixie) root file system with the aws CLI (Debian's awscli: CLI v2 recent enough to read AWS_ENDPOINT_URL), boto3,
# unzip and fetch_and_run.sh (docs/fetch-and-run/), as a tar that `docker import` turns into an image:
#   scripts/build-awscli-image.sh [OUT.tar]       # default /var/cache/openbatch-test/awscli-trixie.tar
#   docker import --change 'ENTRYPOINT ["/usr/local/bin/fetch_and_run.sh"]' OUT.tar fetch-and-run:latest
#   docker import OUT.tar awscli:latest
# Needs root, debootstrap and a Debian mirror; takes a few minutes once (the tar is kept and reused).
set -eu
OUT=${1:-/var/cache/openbatch-test/awscli-trixie.tar}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -s "$OUT" ]; then echo "$OUT exists (delete it to rebuild)"; exit 0; fi
command -v debootstrap >/dev/null || { echo "install Debian package debootstrap (apt-get install -y debootstrap)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
ROOT=$(mktemp -d "$(dirname "$OUT")/rootfs.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"
# debootstrap's --include resolves dependencies poorly (python3-cryptography fails to configure): apt does it right.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
chroot "$ROOT" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends awscli python3-boto3 unzip ca-certificates'
chroot "$ROOT" apt-get clean
install -m 0755 "$HERE/docs/fetch-and-run/fetch_and_run.sh" "$ROOT/usr/local/bin/fetch_and_run.sh"
# Smaller image: no package lists, caches, docs or man pages.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* \
  "$ROOT"/usr/share/locale/*
tar -C "$ROOT" -cf "$OUT.partial" .
mv "$OUT.partial" "$OUT"
echo "built $OUT ($(du -h "$OUT" | cut -f1))"
