#!/usr/bin/env bash
# Dockerfile builds: `stack build` against `docker build` (BuildKit, a
# dockerd started here by hand) and `buildah bud --layers`, in the same
# run, interleaved (A B C A B C ...), RUNS runs each, medians and ratios.
#
# Two Dockerfiles on a local busybox base (bb): the 3-step file
#   FROM bb / RUN echo hi > /x / COPY file /file
# and a 10-step one (ENV, WORKDIR, three RUNs, COPY, ARG, LABEL, CMD).
# Cold is --no-cache (every step runs, layers are written); cached is a
# rebuild where every step hits. The compared runs use --network none on
# every side (dockerd runs with --bridge=none --iptables=false so that it
# leaves no bridge or firewall rule on the host); "stack-bridge" is stack
# with its default network (the stack-build bridge, a veth per RUN), for
# information. Targets: stack cold and cached ≤ 1.0× BuildKit.
#
# Peers come from Debian (apt-get install docker.io buildah, when missing);
# a peer that cannot run is reported and skipped, and the figures measured
# on this kind of machine are printed beside it (../shared/PEERS-BENCH.md:
# BuildKit 300 / 88 ms, buildah 575 / 143 ms for the 3-step file).
# dockerd and buildah keep their state in the script's temp dir; dockerd is
# stopped by its PID at exit. Needs root.
set -euo pipefail
RUNS=${RUNS:-11}
PEERS=${PEERS:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/build.sh: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/stack-bench-build.XXXXXX)
dockerd_pid=
cleanup() {
	set +e
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	[ -n "${root:-}" ] && [ -n "${bin:-}" ] && "$bin" --root "$root" network rm stack-build >/dev/null 2>&1
	if command -v buildah >/dev/null && [ -d "$work/buildah" ]; then
		buildah --root "$work/buildah" --runroot "$work/buildah-run" rm -a >/dev/null 2>&1
		buildah --root "$work/buildah" --runroot "$work/buildah-run" rmi -a -f >/dev/null 2>&1
	fi
	# Whatever a peer left mounted under the temp dir, deepest first.
	awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT
bin=${STACK_BIN:-$work/stack}
[ -n "${STACK_BIN:-}" ] || (cd "$here" && go build -o "$bin" ./cmd/stack)
root=$work/root
"$here/scripts/busybox-image.sh" "$bin" --root "$root" >/dev/null
"$bin" --root "$root" tag busybox bb

# The two build contexts.
mkdir -p "$work/ctx3" "$work/ctx10"
printf 'FROM bb\nRUN echo hi > /x\nCOPY file /file\n' >"$work/ctx3/Dockerfile"
echo content >"$work/ctx3/file"
cat >"$work/ctx10/Dockerfile" <<'EOF'
FROM bb
ENV APP=/app
WORKDIR /app
RUN echo one > one
COPY file /app/file
RUN cat file > copy
ARG V=1
LABEL version=$V
RUN ls /app > list
CMD ["sh"]
EOF
echo content >"$work/ctx10/file"

names=(stack stack-bridge)
declare -A cold cached
cold[stack]="$bin --root $root build -q --network none --no-cache -t b:CTX $work/CTX"
cached[stack]="$bin --root $root build -q --network none -t b:CTX $work/CTX"
cold[stack-bridge]="$bin --root $root build -q --no-cache -t c:CTX $work/CTX"
cached[stack-bridge]="$bin --root $root build -q -t c:CTX $work/CTX"

# --- peers ---
peer_note=()
if [ "$PEERS" = 1 ]; then
	need=()
	command -v dockerd >/dev/null || need+=(docker.io)
	command -v buildah >/dev/null || need+=(buildah)
	if [ ${#need[@]} -gt 0 ]; then
		apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y "${need[@]}" >/dev/null 2>&1; } || true
	fi
	# A plain rootfs tar of the same busybox for the peers' bb image.
	rootfs=$work/bbroot
	mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	chroot "$rootfs" /bin/busybox --install -s /bin
	echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
	echo 'root:x:0:' >"$rootfs/etc/group"
	tar -C "$rootfs" -cf "$work/bb.tar" .

	if command -v dockerd >/dev/null; then
		D="/usr/bin/docker -H unix://$work/docker.sock"
		dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -p "$work/docker.pid" \
			-H "unix://$work/docker.sock" --bridge=none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
		dockerd_pid=$!
		for _ in $(seq 100); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
		if $D version >/dev/null 2>&1 && $D import - bb:latest <"$work/bb.tar" >/dev/null 2>&1 &&
			DOCKER_BUILDKIT=1 $D build -q --network none -t probe "$work/ctx3" >/dev/null 2>"$work/docker-probe.log"; then
			names+=(buildkit)
			cold[buildkit]="env DOCKER_BUILDKIT=1 $D build -q --network none --no-cache -t b:CTX $work/CTX"
			cached[buildkit]="env DOCKER_BUILDKIT=1 $D build -q --network none -t b:CTX $work/CTX"
			peer_note+=("buildkit: $($D version --format '{{.Server.Version}}' 2>/dev/null) (dockerd, BuildKit)")
		else
			peer_note+=("buildkit: cannot run here ($(tail -n 3 "$work/dockerd.log" "$work/docker-probe.log" 2>/dev/null | tr '\n' ' '))")
		fi
	else
		peer_note+=("buildkit: dockerd not installable")
	fi
	if command -v buildah >/dev/null; then
		# buildah's default runtime (crun) refuses this host's hybrid cgroup
		# layout; runc (a docker.io dependency) runs.
		rt=()
		command -v runc >/dev/null && rt=(--runtime "$(command -v runc)")
		BU="buildah --root $work/buildah --runroot $work/buildah-run --storage-driver overlay"
		printf 'FROM scratch\nADD bb.tar /\n' >"$work/Dockerfile.bb"
		if $BU bud -q -f "$work/Dockerfile.bb" -t bb "$work" >/dev/null 2>"$work/buildah-probe.log" &&
			$BU bud -q ${rt[*]} --layers --network none -t probe "$work/ctx3" >/dev/null 2>>"$work/buildah-probe.log"; then
			names+=(buildah)
			cold[buildah]="$BU bud -q ${rt[*]} --layers --network none --no-cache -t b:CTX $work/CTX"
			cached[buildah]="$BU bud -q ${rt[*]} --layers --network none -t b:CTX $work/CTX"
			peer_note+=("buildah: $(buildah --version | awk '{print $3}') (runtime ${rt[1]:-crun})")
		else
			peer_note+=("buildah: cannot run here ($(tail -n 3 "$work/buildah-probe.log" | tr '\n' ' '))")
		fi
	else
		peer_note+=("buildah: not installable")
	fi
fi

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A results
for ctx in ctx3 ctx10; do
	for mode in cold cached; do
		for n in "${names[@]}"; do # warm-up: fills the cache for "cached"
			c=${cached[$n]//CTX/$ctx}
			$c >/dev/null 2>&1 || { echo "$n failed: $c" >&2; exit 1; }
		done
		for n in "${names[@]}"; do : >"$work/t.$n"; done
		for _ in $(seq "$RUNS"); do
			for n in "${names[@]}"; do
				if [ $mode = cold ]; then c=${cold[$n]//CTX/$ctx}; else c=${cached[$n]//CTX/$ctx}; fi
				t0=$(now)
				if ! $c >/dev/null 2>"$work/err"; then
					# One retry (a peer may fail transiently); the failed run is not timed.
					echo "$n failed once: $c: $(tail -n 2 "$work/err" | tr '\n' ' ')" >&2
					t0=$(now)
					$c >/dev/null 2>"$work/err" || { echo "$n failed: $c: $(tail -n 5 "$work/err")" >&2; exit 1; }
				fi
				t1=$(now)
				echo $(((t1 - t0) / 1000)) >>"$work/t.$n"
			done
		done
		for n in "${names[@]}"; do
			results[$ctx.$mode.$n]=$(median <"$work/t.$n")
		done
	done
done

echo "stack build benchmark: $RUNS interleaved runs each, medians (ms)"
for note in "${peer_note[@]}"; do echo "  $note"; done
printf '%-8s %-7s' file mode
for n in "${names[@]}"; do printf ' %10s' "$n"; done
[[ " ${names[*]} " == *" buildkit "* ]] && printf ' %16s' "stack/buildkit"
[[ " ${names[*]} " == *" buildah "* ]] && printf ' %15s' "stack/buildah"
echo
for ctx in ctx3 ctx10; do
	for mode in cold cached; do
		printf '%-8s %-7s' "$ctx" "$mode"
		for n in "${names[@]}"; do printf ' %10.1f' "$(awk -v a="${results[$ctx.$mode.$n]}" 'BEGIN {print a / 1000}')"; done
		for p in buildkit buildah; do
			[[ " ${names[*]} " == *" $p "* ]] || continue
			printf ' %15.2fx' "$(awk -v a="${results[$ctx.$mode.stack]}" -v b="${results[$ctx.$mode.$p]}" 'BEGIN {print a / b}')"
		done
		echo
	done
done
echo "(measured on this kind of machine without a peer in the run, 3-step file: BuildKit 300 / 88 ms, buildah 575 / 143 ms)"
