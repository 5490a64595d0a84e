#!/usr/bin/env bash
# Makes a local `busybox:latest` image (or the tag given) from Debian's busybox-static, with no registry:
# a root filesystem holding /bin/busybox and a link per applet, imported with `docker import`.
# Usage: scripts/import-busybox.sh [TAG]   (DOCKER_HOST is honoured)
set -euo pipefail
tag="${1:-busybox:latest}"
bb=/bin/busybox
if [ ! -x "$bb" ]; then
  echo "import-busybox: $bb is missing; install it: apt-get install -y busybox-static" >&2
  exit 1
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$root/etc/passwd"
tar -C "$root" -c . | docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$tag"
echo "import-busybox: $tag is ready"
