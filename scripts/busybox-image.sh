#!/bin/sh
# busybox-image.sh [STACK_BIN] [STACK GLOBAL FLAGS...]
#
# Builds the local base image busybox:latest from Debian's busybox-static,
# so nothing needs Docker Hub: a rootfs with /bin/busybox, a symlink per
# applet (`busybox --list`), /etc/passwd and /etc/group (root and nobody
# 65534), /tmp, /root, /home, and imports it with `stack import` into the
# state root (--root DIR after STACK_BIN, or $STACK_ROOT).
#
#   scripts/busybox-image.sh bin/stack
#   scripts/busybox-image.sh bin/stack --root /tmp/r
#   BUSYBOX_TAG=busybox:test scripts/busybox-image.sh bin/stack
set -eu

STACK_BIN=${1:-stack}
[ $# -gt 0 ] && shift
TAG=${BUSYBOX_TAG:-busybox:latest}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# The static build runs in any rootfs; Debian's dynamic busybox would not.
if ! [ -x "$BUSYBOX" ] || \
   ldd "$BUSYBOX" >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing busybox-static" >&2
		apt-get install -y busybox-static >&2 || { apt-get update >&2 && apt-get install -y busybox-static >&2; }
	fi
fi
if ! [ -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
	echo "busybox-image.sh: $BUSYBOX is missing or not static: apt-get install busybox-static" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/home" \
	"$rootfs/var/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/sbin"
cp "$BUSYBOX" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] && continue
	[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
echo "127.0.0.1	localhost" >"$rootfs/etc/hosts"
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 0700 "$rootfs/root"

tar -C "$rootfs" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -cf "$tmp/rootfs.tar" .
"$STACK_BIN" "$@" import --change 'CMD ["sh"]' -m "busybox $("$BUSYBOX" 2>&1 | head -n1 | awk '{print $2}') from Debian busybox-static" "$tmp/rootfs.tar" "$TAG"
