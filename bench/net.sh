#!/bin/sh
# Networking benchmarks (issue 6, item 9): attach time (median of 50),
# 50 attachments up and down with a leak check, and a 1 GiB TCP transfer
# through a 127.0.0.1 port map against the same transfer straight to the
# container's address. Root only; every benchmark builds its "host" in a
# network namespace of its own and leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench/net.sh: needs root (network namespaces, nftables)" >&2
	exit 0
fi
STACK_TEST_PRIVILEGED=1 exec ${GO:-go} test -count=1 -run '^$' -bench 'BenchmarkNet' -benchtime 1x -v ./netplan
