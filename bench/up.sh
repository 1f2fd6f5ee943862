#!/usr/bin/env bash
# A 3-service project, whole process, against docker-compose (v1, Debian's,
# on a dockerd started here by hand) and podman-compose on the same compose
# file, in the same run: every round runs each tool's whole cycle once, in a
# new random order (A B C, C A B, ...), RUNS rounds, medians and ratios.
#
# The file (bench/up/compose.yaml): web = busybox httpd behind
# 127.0.0.1:PORT:80, a and b = `sleep 3600`, the default network, from a
# local image only (stack: scripts/busybox-image.sh, tagged bb; the peers:
# the same busybox rootfs `import`ed as bb:latest). One cycle:
#   up      `up -d` from nothing (no container, no network)
#   noop    `up -d` again, with everything up
#   plan    `stack plan --detailed-exitcode` with everything up (stack only)
#   change  b's command becomes `sleep 3601`, then `up -d -t 0`
#   down    `down -t 0`
# Untimed checks after each step: the port map answers, the change replaced
# b and only b, down left no container. podman-compose 1.0.3 neither detects
# a change nor accepts `up --force-recreate -t 0` (it passes `-t 0.0`), so
# its change is `down -t 0 b` + `up -d b`; its down leaves the project's
# network, which the script removes (untimed) so that every up starts from
# nothing. Targets: up ≤ 150 ms, plan ≤ 30 ms, down ≤ 100 ms, each ≥ 8×
# faster than docker-compose.
#
# stack runs in the host's network namespace as users run it; each peer runs
# in a network namespace of its own (dockerd inside it, podman-compose under
# nsenter), so that dockerd's iptables (FORWARD policy DROP) and podman's
# bridge never touch the host. podman's storage, network configs and tmp dir
# live in the temp dir (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, which also
# carry the rlimit fix of ../shared/PEERS-BENCH.md: /etc is not touched);
# crun needs hugetlb bound to a v1 hierarchy on this host, which the script
# mounts when it is not mounted and undoes at exit. Peers missing are
# installed with apt-get; PEERS="" runs stack alone. Needs root.
#
#   bench/up.sh                    # RUNS=10 PORT=18380
#   RUNS=5 PEERS=docker-compose bench/up.sh
set -euo pipefail
RUNS=${RUNS:-10}
PORT=${PORT:-18380}
PEERS=${PEERS-docker-compose podman-compose}
P=upbench
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/up.sh: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/stack-bench-up.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
dockerd_pid= hugetlb_mounted= bin= root= D= DH= DNS= PNS=
tools=(stack)

say() { echo "bench/up.sh: $*" >&2; }

cleanup() {
	set +eu
	trap - EXIT INT TERM
	cd /
	if [ -n "$root" ] && [ -x "$bin" ]; then
		"$bin" --root "$root" --project-name "$P" --file "$work/proj/compose.yaml" down -t 0 >/dev/null 2>&1
	fi
	if [ -n "$dockerd_pid" ]; then
		DOCKER_HOST=$DH docker-compose -p "$P" -f "$work/proj/compose.yaml" down -t 0 >/dev/null 2>&1
		$D rm -f $($D ps -aq) >/dev/null 2>&1
		$D rmi -f bb:latest >/dev/null 2>&1
		kill "$dockerd_pid" 2>/dev/null
		for _ in $(seq 150); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$dockerd_pid" 2>/dev/null && say "dockerd ($dockerd_pid) did not stop"
	fi
	if [ -e "$work/podman.conf" ]; then
		(cd "$work/proj" && $PNS podman-compose -p "$P" down -t 0 >/dev/null 2>&1)
		$PNS podman rm -af -t 0 >/dev/null 2>&1
		$PNS podman network rm -f "${P}_default" >/dev/null 2>&1
		podman rmi -af >/dev/null 2>&1
	fi
	# Whatever is still mounted under the temp dir (netns files, dockerd's
	# and podman's storage), deepest first.
	awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
	if [ -n "$hugetlb_mounted" ]; then
		# The peers' empty cgroups first, so that the hierarchy goes away.
		find /sys/fs/cgroup/hugetlb -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		if [ -n "$(find /sys/fs/cgroup/hugetlb -mindepth 1 -type d)" ]; then
			say "cgroups left in hugetlb, left mounted: $(find /sys/fs/cgroup/hugetlb -mindepth 1 -type d | head -3)"
		else
			umount /sys/fs/cgroup/hugetlb
		fi
	fi
	rm -rf "$work"
	# Nothing of this run may remain: links and the nft table of stack's
	# root, mounts, processes (dockerd, containerd, shims, conmon, stack's
	# supervisors all name the temp dir in their arguments).
	local h left=0
	h=$(printf '%s\0' "$root" | sha256sum | cut -c1-8)
	if ip -o link show | grep -q "alias stack:$h"; then say "LEAK: links of stack's root: $(ip -o link show | grep "alias stack:$h" | awk '{print $2}')"; left=1; fi
	if nft list tables 2>/dev/null | grep -q "stack_$h"; then say "LEAK: nft table stack_$h"; left=1; fi
	if grep -q "$work" /proc/self/mountinfo; then say "LEAK: mounts under $work"; left=1; fi
	if pgrep -f -- "$work" >/dev/null; then say "LEAK: processes: $(pgrep -af -- "$work" | head -5)"; left=1; fi
	[ "$left" = 0 ] && echo "cleanup: no container, network, image, link, nft table, mount or process of this run is left"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -n "${STACK_BIN:-}" ] && bin=$STACK_BIN || { bin=$work/stack; (cd "$here" && go build -o "$bin" ./cmd/stack); }
root=$work/root
"$here/scripts/busybox-image.sh" "$bin" --root "$root" >/dev/null
"$bin" --root "$root" tag busybox bb

# The project: the same file for every tool; b's command is a parameter.
mkdir -p "$work/proj"
compose() { sed -e "s/@PORT@/$PORT/" -e "s/@B@/$1/" "$here/bench/up/compose.yaml" >"$work/proj/compose.yaml"; }
compose 3600
S=("$bin" --root "$root" --project-name "$P")

# --- peers ---
peer_note=()
for peer in $PEERS; do
	case $peer in
	docker-compose) pkgs=(docker.io docker-compose); cmds=(dockerd docker-compose) ;;
	podman-compose) pkgs=(podman podman-compose); cmds=(podman podman-compose) ;;
	*) say "unknown peer $peer"; exit 1 ;;
	esac
	need=()
	for i in "${!cmds[@]}"; do command -v "${cmds[$i]}" >/dev/null || need+=("${pkgs[$i]}"); done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && apt-get install -y "${need[@]}" >/dev/null 2>&1; } ||
			{ peer_note+=("$peer: not installable (${need[*]})"); continue; }
	fi
	if [ ! -d "$work/bbroot" ]; then # the same busybox, as a plain rootfs tar
		r=$work/bbroot
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root"
		cp "$(command -v busybox)" "$r/bin/busybox"
		chroot "$r" /bin/busybox --install -s /bin
		echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
		echo 'root:x:0:' >"$r/etc/group"
		tar -C "$r" -cf "$work/bb.tar" .
	fi
	ns=$work/netns-$peer # a network namespace of the peer's own, lo up
	touch "$ns"
	unshare --net="$ns" ip link set lo up
	case $peer in
	docker-compose)
		DH=unix://$work/docker.sock
		D="/usr/bin/docker -H $DH"
		DNS="nsenter --net=$ns"
		$DNS dockerd --data-root "$work/docker" --exec-root "$work/dx" -p "$work/docker.pid" -H "$DH" \
			>"$logs/dockerd.log" 2>&1 &
		dockerd_pid=$!
		for _ in $(seq 150); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
		if $D version >/dev/null 2>&1 && $D import - bb:latest <"$work/bb.tar" >/dev/null; then
			tools+=(docker-compose)
			peer_note+=("docker-compose $(docker-compose version --short) (v1, Python), dockerd $($D version -f '{{.Server.Version}}'), $(runc --version | head -1)")
		else
			peer_note+=("docker-compose: dockerd does not start here: $(tail -n 2 "$logs/dockerd.log" | tr '\n' ' ')")
		fi
		;;
	podman-compose)
		# storage, networks, tmp dir and events in the temp dir; the rlimit fix
		sed -e '/^\[containers\]/a default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' \
			-e "/^\[network\]/a network_config_dir = \"$work/podman/networks\"" \
			-e "/^\[engine\]/a tmp_dir = \"$work/podman/tmp\"" \
			/usr/share/containers/containers.conf >"$work/podman.conf"
		printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
			"$work/podman/root" "$work/podman/run" >"$work/podman-storage.conf"
		export CONTAINERS_CONF=$work/podman.conf CONTAINERS_STORAGE_CONF=$work/podman-storage.conf
		PNS="nsenter --net=$ns"
		if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
			mkdir -p /sys/fs/cgroup/hugetlb
			mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
			hugetlb_mounted=1
		fi
		if podman import - bb:latest <"$work/bb.tar" >/dev/null 2>"$logs/podman-import.log"; then
			tools+=(podman-compose)
			peer_note+=("podman-compose $(podman-compose version 2>/dev/null | awk '/^podman-compose/ {print $NF; exit}') (Python), $(podman --version), $(crun --version | head -1), $(podman info -f '{{.Host.NetworkBackend}}')")
		else
			peer_note+=("podman-compose: podman import fails: $(tail -n 2 "$logs/podman-import.log" | tr '\n' ' ')")
		fi
		;;
	esac
done

# --- one tool's operations ---
op() { # tool op: the timed command
	case $1.$2 in
	stack.up | stack.noop) "${S[@]}" up -d ;;
	stack.plan) "${S[@]}" plan --detailed-exitcode ;;
	stack.change) "${S[@]}" up -d -t 0 ;;
	stack.down) "${S[@]}" down -t 0 ;;
	docker-compose.up | docker-compose.noop) DOCKER_HOST=$DH docker-compose -p "$P" up -d ;;
	docker-compose.change) DOCKER_HOST=$DH docker-compose -p "$P" up -d -t 0 ;;
	docker-compose.down) DOCKER_HOST=$DH docker-compose -p "$P" down -t 0 ;;
	podman-compose.up | podman-compose.noop) $PNS podman-compose -p "$P" up -d ;;
	podman-compose.change) $PNS podman-compose -p "$P" down -t 0 b && $PNS podman-compose -p "$P" up -d b ;;
	podman-compose.down) $PNS podman-compose -p "$P" down -t 0 ;;
	*) return 0 ;;
	esac
}
ids() { # tool: "service container-id" of every running container, sorted
	case $1 in
	stack) "${S[@]}" ps --filter "label=com.docker.compose.project=$P" --format json | sed -n 's/.*"ID":"\([0-9a-f]*\)".*"Names":"[^"]*-\([a-z]*\)-1".*/\2 \1/p' ;;
	docker-compose) $D ps --filter "label=com.docker.compose.project=$P" --format '{{.Label "com.docker.compose.service"}} {{.ID}}' ;;
	podman-compose) $PNS podman ps --filter "label=io.podman.compose.project=$P" --format '{{index .Labels "com.docker.compose.service"}} {{.ID}}' ;;
	esac | sort
}
command_of_b() {
	case $1 in
	stack) "${S[@]}" ps --filter "label=com.docker.compose.project=$P" --format json | grep '"Names":"upbench-b-1"' | grep -o 'sleep [0-9]*' ;;
	docker-compose) $D inspect -f '{{join .Config.Cmd " "}}' "${P}_b_1" ;;
	podman-compose) $PNS podman inspect -f '{{join .Config.Cmd " "}}' "${P}_b_1" ;;
	esac
}
ns_of() { case $1 in stack) ;; docker-compose) echo "$DNS" ;; podman-compose) echo "$PNS" ;; esac; }
fail() { say "$1: $2"; tail -n 20 "$logs/$1.log" >&2; exit 1; }

declare -A times
timed() { # tool op: run it, check it, record the time
	local tool=$1 o=$2 t0 t1
	t0=$EPOCHREALTIME
	op "$tool" "$o" >>"$logs/$tool.log" 2>&1 || fail "$tool" "$o exited $?"
	t1=$EPOCHREALTIME
	[ -n "$record" ] && times[$tool.$o]+="$(echo "$t0 $t1" | awk '{printf "%.3f", ($2-$1)*1000}') "
	return 0
}
cycle() { # tool: one whole cycle, with the untimed checks between the steps
	local tool=$1 n before after
	compose 3600
	echo "== round $round: $tool" >>"$logs/$tool.log"
	timed "$tool" up
	# the port map answers (bounded: 30 × 0.1 s)
	for n in $(seq 30); do $(ns_of "$tool") curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$PORT/passwd" 2>/dev/null && break; sleep 0.1; done
	[ "$n" -lt 30 ] || fail "$tool" "127.0.0.1:$PORT does not answer after up"
	[ "$(ids "$tool" | wc -l)" = 3 ] || fail "$tool" "not 3 containers after up: $(ids "$tool" | tr '\n' ' ')"
	before=$(ids "$tool")
	timed "$tool" noop
	[ "$(ids "$tool")" = "$before" ] || fail "$tool" "the no-op up changed containers"
	[ "$tool" = stack ] && timed "$tool" plan
	compose 3601
	timed "$tool" change
	after=$(ids "$tool")
	[ "$(command_of_b "$tool")" = "sleep 3601" ] || fail "$tool" "b was not replaced (command: $(command_of_b "$tool"))"
	[ "$(echo "$before" | grep -v '^b ')" = "$(echo "$after" | grep -v '^b ')" ] || fail "$tool" "the change replaced more than b"
	[ "$(echo "$before" | grep '^b ')" != "$(echo "$after" | grep '^b ')" ] || fail "$tool" "b kept its container"
	timed "$tool" down
	[ "$(ids "$tool" | wc -l)" = 0 ] || fail "$tool" "containers left after down: $(ids "$tool" | tr '\n' ' ')"
	# podman-compose's down keeps the network; the next up starts from nothing
	[ "$tool" = podman-compose ] && { $PNS podman network rm "${P}_default" >/dev/null || fail "$tool" "network rm"; }
	return 0
}

cd "$work/proj"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
record= round=warm-up
for tool in "${tools[@]}"; do cycle "$tool"; done # warm-up: caches, first unpack, and a check that each works
record=1
for round in $(seq "$RUNS"); do
	for tool in $(shuf -e "${tools[@]}"); do cycle "$tool"; done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.0f–%.0f", a[1], a[NR]}'; }
declare -A med
for k in "${!times[@]}"; do med[$k]=$(echo "${times[$k]}" | median); done

echo "bench/up.sh: 3 services (one 127.0.0.1 port map, default network), median of $RUNS interleaved rounds, ms"
echo "load average $load0 before, $load1 after; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
for n in "${peer_note[@]}"; do echo "  $n"; done
labels=(up "up -d from nothing" noop "up -d, no-op" plan "plan, all up" change "change b, up -d -t 0" down "down -t 0")
targets=(up 150 plan 30 down 100)
declare -A target
for ((i = 0; i < ${#targets[@]}; i += 2)); do target[${targets[$i]}]=${targets[$((i + 1))]}; done
printf '%-22s' ""
for t in "${tools[@]}"; do printf '%16s' "$t"; done
for t in "${tools[@]:1}"; do printf '%22s' "stack/$t"; done
printf '   target\n'
verdicts=()
for ((i = 0; i < ${#labels[@]}; i += 2)); do
	o=${labels[$i]}
	printf '%-22s' "${labels[$((i + 1))]}"
	for t in "${tools[@]}"; do
		if [ -n "${med[$t.$o]:-}" ]; then printf '%16.1f' "${med[$t.$o]}"; else printf '%16s' "-"; fi
	done
	for t in "${tools[@]:1}"; do
		if [ -n "${med[$t.$o]:-}" ]; then
			printf '%22s' "$(awk -v s="${med[stack.$o]}" -v p="${med[$t.$o]}" 'BEGIN {printf "%.3f (%.1fx)", s/p, p/s}')"
		else printf '%22s' "-"; fi
	done
	if [ -n "${target[$o]:-}" ]; then
		printf '   <= %s ms' "${target[$o]}"
		v=$(awk -v s="${med[stack.$o]}" -v t="${target[$o]}" 'BEGIN {print (s <= t) ? "met" : "MISSED"}')
		verdicts+=("$o <= ${target[$o]} ms: $v")
		if [ -n "${med[docker-compose.$o]:-}" ]; then
			v=$(awk -v s="${med[stack.$o]}" -v p="${med[docker-compose.$o]}" 'BEGIN {print (p / s >= 8) ? "met" : "MISSED"}')
			verdicts+=("$o >= 8x faster than docker-compose: $v")
		fi
	fi
	printf '\n'
done
printf 'spread (min–max) of stack:'
for o in up noop plan change down; do printf '  %s %s' "$o" "$(echo "${times[stack.$o]}" | spread)"; done
printf '\n'
for v in "${verdicts[@]}"; do echo "  $v"; done
echo "(plan: the peers have no plan command; podman-compose's change is down b + up b, its no-op up re-runs podman run/start with its built-in 1 s sleeps)"
