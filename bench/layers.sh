#!/bin/sh
# bench/layers.sh — image benchmarks, each against its peer in the same run
# (A B A B ..., medians): unpack of a ~200 MB / 20k-file layer vs GNU tar -x
# (on $TMPDIR, and on /dev/shm where the filesystem's writeback noise is
# gone), and a 5-layer pull from Debian's docker-registry vs skopeo copy to
# an OCI dir, with stack's peak RSS. Needs skopeo and docker-registry for
# the pull part. Run by `make bench` (which builds bin/stack first).
set -eu
cd "$(dirname "$0")/.."
STACK_BIN=${STACK_BIN:-bin/stack}
[ -x "$STACK_BIN" ] || go build -o "$STACK_BIN" ./cmd/stack
go build -o bin/layers-bench ./bench/layers-bench
echo "== unpack on ${TMPDIR:-/tmp}"
bin/layers-bench unpack -runs "${RUNS:-7}"
if [ -d /dev/shm ]; then
	echo "== unpack on /dev/shm (tmpfs)"
	TMPDIR=/dev/shm bin/layers-bench unpack -runs "${RUNS:-7}"
fi
if command -v skopeo >/dev/null && command -v docker-registry >/dev/null; then
	echo "== pull"
	bin/layers-bench pull -stack "$STACK_BIN" -runs "${RUNS:-7}"
else
	echo "== pull skipped: apt-get install -y skopeo docker-registry"
fi
