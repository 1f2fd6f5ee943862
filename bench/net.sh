#!/bin/sh
# Networking benchmarks (issue 6, item 9):
#   netplan:  attach time (median of 50), 50 attachments up and down with a
#             leak check, 1 GiB TCP through a 127.0.0.1 port map against the
#             same transfer straight to the container's address;
#   executor: the same with real busybox containers: 50 containers created,
#             started, stopped and removed on one network (leak check), and
#             1 GiB to a busybox nc sink through its port map and direct.
# Root only; every benchmark builds its "host" in a network namespace of its
# own and leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench/net.sh: needs root (network namespaces, nftables)" >&2
	exit 0
fi
export STACK_TEST_PRIVILEGED=1
${GO:-go} test -count=1 -run '^$' -bench 'BenchmarkNet' -benchtime 1x -v ./netplan
${GO:-go} test -count=1 -run '^$' -bench 'BenchmarkNetContainer' -benchtime 1x -v ./executor
