#!/usr/bin/env bash
# Whole-process container start: `stack run --rm busybox true` against
# `crun run` and `runc run` on the same busybox rootfs (both from Debian,
# installed here when missing) and `unshare ... chroot ROOTFS /bin/true`,
# interleaved (every round runs each once, in a random order), RUNS runs
# each, medians and ratios.
# Then the peak RSS of a whole `stack run` (/usr/bin/time -v), and 50
# sequential containers, after which no mount, cgroup or process of theirs
# may remain. Targets: ≤ 1.3× crun, ≤ 0.7× runc, ≤ 16 MiB. Needs root.
#
# crun refuses this machine's hybrid cgroup layout until hugetlb is bound to
# a v1 hierarchy (../shared/PEERS-BENCH.md): the script mounts it for the
# run and undoes it at exit. stack itself does not need it.
set -euo pipefail
RUNS=${RUNS:-15}
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/stack-bench-run.XXXXXX)
hugetlb_mounted= hugetlb_made=
cleanup() {
	if [ -n "$hugetlb_mounted" ]; then
		rmdir /sys/fs/cgroup/hugetlb/bench 2>/dev/null || true
		umount /sys/fs/cgroup/hugetlb || echo "bench/run.sh: hugetlb still in use, left mounted" >&2
	fi
	[ -n "$hugetlb_made" ] && rmdir /sys/fs/cgroup/hugetlb 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
bin=${STACK_BIN:-$work/stack}
[ -n "${STACK_BIN:-}" ] || (cd "$here" && go build -o "$bin" ./cmd/stack)

need=()
command -v runc >/dev/null || need+=(runc)
command -v crun >/dev/null || need+=(crun)
command -v busybox >/dev/null || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
	[ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && hugetlb_made=1; }
	mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
	hugetlb_mounted=1
fi

root=$work/root
"$here/scripts/busybox-image.sh" "$bin" --root "$root" >/dev/null

# One rootfs for runc, crun and unshare.
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/etc" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys" "$bundle/rootfs/tmp"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
chroot "$bundle/rootfs" /bin/busybox --install -s /bin
echo 'root:x:0:0:root:/root:/bin/sh' >"$bundle/rootfs/etc/passwd"
echo 'root:x:0:' >"$bundle/rootfs/etc/group"
(cd "$bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"\/bin\/true"/' config.json)

names=(stack crun runc unshare)
cmds=(
	"$bin --root $root run --rm busybox true"
	"crun --root $work/crun run -b $bundle bench"
	"runc --root $work/runc run -b $bundle bench"
	"unshare --fork --pid --mount --uts --ipc --net chroot $bundle/rootfs /bin/true"
)
for i in "${!cmds[@]}"; do # warm-up, and a check that each works
	${cmds[$i]} || { echo "${names[$i]} failed: ${cmds[$i]}" >&2; exit 1; }
done
declare -A times
for r in $(seq "$RUNS"); do
	# Interleaved, in a new random order each round: a tool must not gain
	# from the kernel state (caches, cgroup locks) the previous one left.
	for i in $(shuf -e "${!cmds[@]}"); do
		t0=$EPOCHREALTIME
		${cmds[$i]} >/dev/null
		t1=$EPOCHREALTIME
		times[$i]+="$(echo "$t0 $t1" | awk '{printf "%.3f", ($2-$1)*1000}') "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A med
echo "median of $RUNS interleaved runs (ms); $(crun --version | head -1); $(runc --version | head -1)"
for i in "${!cmds[@]}"; do
	med[$i]=$(echo "${times[$i]}" | median)
	printf '  %-8s %7.2f ms\n' "${names[$i]}" "${med[$i]}"
done
awk -v s="${med[0]}" -v c="${med[1]}" -v r="${med[2]}" -v u="${med[3]}" 'BEGIN {
	printf "  stack/crun %.2f (target <= 1.3)   stack/runc %.2f (target <= 0.7)   stack/unshare %.2f\n", s/c, s/r, s/u }'

rss=$(/usr/bin/time -v $bin --root "$root" run --rm busybox true 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}')
awk -v k="$rss" 'BEGIN { printf "peak RSS of stack run: %.1f MiB (target <= 16)\n", k/1024 }'

for i in $(seq 50); do "$bin" --root "$root" run --rm busybox true; done
leaks=0
if grep -q "$root" /proc/mounts; then echo "LEAK: mounts under $root"; grep "$root" /proc/mounts; leaks=1; fi
if [ -n "$(ls "$root/containers")" ]; then echo "LEAK: container records: $(ls "$root/containers")"; leaks=1; fi
left=$(find /sys/fs/cgroup -path '*/stack/*' -type d -newer "$bundle/config.json" 2>/dev/null | head)
if [ -n "$left" ]; then echo "LEAK: cgroups: $left"; leaks=1; fi
if pgrep -f "__stack_init" >/dev/null; then echo "LEAK: init processes"; leaks=1; fi
[ "$leaks" = 0 ] && echo "50 sequential containers: no mount, cgroup, record or process left"
exit "$leaks"
