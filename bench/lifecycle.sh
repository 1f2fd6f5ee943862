#!/usr/bin/env bash
# Detached lifecycle: N (20) containers `sleep 1000` started detached, listed,
# stopped with -t 0 and removed — stack, docker and podman in the same run,
# the three tools interleaved container by container (A B C A B C ...).
# Reports the median per-container start (the command returns once the
# container runs), stop and rm, one `ps -a` with N containers, and the
# memory each tool keeps resident for 3 running containers: the sum of the
# PSS of stack's supervisors; dockerd + containerd + its shims; podman's
# conmons (the `sleep` processes themselves are not counted for anyone).
# Then `stack ps` on 100 containers (target < 100 ms, whole process).
#
# dockerd runs with its own data root and socket, and is stopped by its PID;
# podman uses its own root; both need the busybox image, imported from the
# same rootfs as stack's. crun (podman's runtime) needs hugetlb bound to a
# v1 hierarchy on this hybrid host (../shared/PEERS-BENCH.md): mounted here
# when missing, undone at exit. A peer that cannot be started is skipped
# and the report says so. Needs root.
set -uo pipefail
N=${N:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/lifecycle.sh: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/stack-bench-lc.XXXXXX)
dockerd_pid= hugetlb_mounted= hugetlb_made=
cleanup() {
	[ -n "${sroot:-}" ] && { "$bin" --root "$sroot" rm -f $("$bin" --root "$sroot" ps -aq) >/dev/null 2>&1; }
	if [ -n "$dockerd_pid" ]; then
		docker -H "unix://$work/docker.sock" rm -f $(docker -H "unix://$work/docker.sock" ps -aq) >/dev/null 2>&1
		kill "$dockerd_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	if command -v podman >/dev/null; then
		podman $podflags rm -af -t 0 >/dev/null 2>&1
		podman $podflags system reset -f >/dev/null 2>&1
	fi
	if [ -n "$hugetlb_mounted" ]; then
		umount /sys/fs/cgroup/hugetlb 2>/dev/null || echo "bench/lifecycle.sh: hugetlb still in use, left mounted" >&2
	fi
	[ -n "$hugetlb_made" ] && rmdir /sys/fs/cgroup/hugetlb 2>/dev/null
	umount -R "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
podflags="--root $work/podman --runroot $work/podrun --cgroup-manager cgroupfs --events-backend file"
bin=${STACK_BIN:-$work/stack}
[ -n "${STACK_BIN:-}" ] || (cd "$here" && go build -o "$bin" ./cmd/stack)
sroot=$work/stack-root

now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1e6 }'; }
pss() { # sum of Pss (KiB) of the given PIDs
	local t=0 p v
	for p in "$@"; do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# The same busybox rootfs for everyone.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
chroot "$rootfs" /bin/busybox --install -s /bin
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | "$bin" --root "$sroot" import - busybox:latest >/dev/null

tools=(stack)
docker_v= podman_v=
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
	dockerd --data-root "$work/docker" --exec-root "$work/dexec" --pidfile "$work/docker.pid" \
		-H "unix://$work/docker.sock" --bridge none --iptables=false --ip6tables=false >"$work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 100); do docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
	if docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 &&
		tar -C "$rootfs" -c . | docker -H "unix://$work/docker.sock" import - bb:latest >/dev/null 2>&1; then
		tools+=(docker)
		docker_v=$(docker -H "unix://$work/docker.sock" version --format '{{.Server.Version}}')
	else
		echo "docker: dockerd did not start (see $work/dockerd.log), skipped" >&2
	fi
fi
if command -v podman >/dev/null; then
	if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
		[ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && hugetlb_made=1; }
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && hugetlb_mounted=1
	fi
	mkdir -p "$work/containers"
	printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$work/containers/containers.conf"
	export CONTAINERS_CONF=$work/containers/containers.conf
	if tar -C "$rootfs" -c . | podman $podflags import - bb:latest >/dev/null 2>&1 &&
		podman $podflags run --rm --network none bb:latest true >/dev/null 2>&1; then
		tools+=(podman)
		podman_v=$(podman --version | awk '{ print $3 }')
	else
		echo "podman: could not run a container here, skipped" >&2
	fi
fi

run_d() { # tool name
	case $1 in
	stack) "$bin" --root "$sroot" run -d --network none --name "$2" busybox sleep 1000 ;;
	docker) docker -H "unix://$work/docker.sock" run -d --network none --name "$2" bb:latest sleep 1000 ;;
	podman) podman $podflags run -d --network none --name "$2" bb:latest sleep 1000 ;;
	esac
}
cli() { # tool args...
	local t=$1
	shift
	case $t in
	stack) "$bin" --root "$sroot" "$@" ;;
	docker) docker -H "unix://$work/docker.sock" "$@" ;;
	podman) podman $podflags "$@" ;;
	esac
}
resident() { # tool: KiB kept resident for its running containers
	case $1 in
	stack) pss $(pgrep -f "__stack_shim $sroot ") ;;
	docker) pss "$dockerd_pid" $(pgrep -x containerd) $(pgrep -f "containerd-shim.*$work/dexec") ;;
	podman) pss $(pgrep -f "conmon.*$work/podrun") ;;
	esac
}

declare -A start stop rm mem
for i in $(seq "$N"); do
	for t in "${tools[@]}"; do
		a=$(now)
		run_d "$t" "lc$i" >/dev/null || echo "$t run -d failed" >&2
		start[$t]+="$(($(now) - a)) "
	done
	if [ "$i" = 3 ]; then
		sleep 0.5
		for t in "${tools[@]}"; do mem[$t]=$(resident "$t"); done
	fi
done
declare -A list
for t in "${tools[@]}"; do
	a=$(now)
	n=$(cli "$t" ps -a -q | wc -l)
	list[$t]=$(($(now) - a))
	[ "$n" -ge "$N" ] || echo "$t ps -a listed $n containers, want $N" >&2
done
for i in $(seq "$N"); do
	for t in "${tools[@]}"; do
		a=$(now)
		cli "$t" stop -t 0 "lc$i" >/dev/null || echo "$t stop failed" >&2
		stop[$t]+="$(($(now) - a)) "
		a=$(now)
		cli "$t" rm "lc$i" >/dev/null || echo "$t rm failed" >&2
		rm[$t]+="$(($(now) - a)) "
	done
done

echo "detached lifecycle, $N containers each (medians, ms, whole commands)"
[ -n "$docker_v" ] && echo "docker: dockerd $docker_v"
[ -n "$podman_v" ] && echo "podman: $podman_v"
printf '%-8s %10s %10s %10s %12s %16s\n' tool "run -d" "stop -t 0" rm "ps -a ($N)" "resident (3 up)"
for t in "${tools[@]}"; do
	printf '%-8s %10s %10s %10s %12s %12s MiB\n' "$t" \
		"$(tr ' ' '\n' <<<"${start[$t]}" | grep . | median)" \
		"$(tr ' ' '\n' <<<"${stop[$t]}" | grep . | median)" \
		"$(tr ' ' '\n' <<<"${rm[$t]}" | grep . | median)" \
		"$(ms "${list[$t]}")" "$(awk -v k="${mem[$t]:-0}" 'BEGIN { printf "%.1f", k / 1024 }')"
done
if [ -n "$docker_v" ]; then
	s=$(tr ' ' '\n' <<<"${start[stack]}" | grep . | median)
	d=$(tr ' ' '\n' <<<"${start[docker]}" | grep . | median)
	awk -v s="$s" -v d="$d" 'BEGIN { printf "stack/docker start: %.3f (target <= 0.15)\n", s / d }'
fi

# A supervisor's own figures (one running container).
"$bin" --root "$sroot" run -d --network none --name mem busybox sleep 1000 >/dev/null
sleep 0.3
p=$(pgrep -f "__stack_shim $sroot ")
echo "one supervisor: $(grep -E 'VmHWM|VmRSS|RssAnon|RssFile' /proc/$p/status | awk '{ printf "%s %s kB  ", $1, $2 }')"
"$bin" --root "$sroot" rm -f mem >/dev/null

# stack ps with 100 containers (created, not started: ps reads the same records).
for i in $(seq 100); do "$bin" --root "$sroot" create --network none busybox sleep 1 >/dev/null; done
for _ in 1 2 3; do "$bin" --root "$sroot" ps -a >/dev/null; done
ts=""
for _ in $(seq 10); do
	a=$(now)
	"$bin" --root "$sroot" ps -a >/dev/null
	ts+="$(($(now) - a)) "
done
echo "stack ps -a, 100 containers: $(tr ' ' '\n' <<<"$ts" | grep . | median) ms (median of 10; target < 100)"
left=$(pgrep -f "__stack_shim $sroot " | wc -l)
[ "$left" = 0 ] || echo "bench/lifecycle.sh: $left supervisors left" >&2
