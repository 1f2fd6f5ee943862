#!/usr/bin/env bash
# Whole-process `stack plan` on a generated 50-service, 5-network stack file
# (the same shape as planner's BenchmarkLoadPlan) against an empty state
# root, and again against a root whose record says everything is up (the
# no-op plan). Prints the median of RUNS runs each. Target: under 30 ms.
set -euo pipefail
RUNS=${RUNS:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${STACK_BIN:-$work/stack}
[ -n "${STACK_BIN:-}" ] || (cd "$here" && go build -o "$bin" ./cmd/stack)

mkdir -p "$work/proj"
{
  echo "name: bench"
  echo "services:"
  for i in $(seq 0 49); do
    s=$(printf 'svc%02d' "$i")
    cat <<YAML
  $s:
    image: busybox:latest
    command: ["sh", "-c", "echo service $i; exec sleep 3600"]
    environment:
      INDEX: "$i"
      MODE: production
    ports: ["127.0.0.1:$((20000 + i)):80"]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 64
    healthcheck:
      test: ["CMD", "true"]
      interval: 5s
    networks: [net$((i % 5))]
YAML
    [ "$i" -gt 0 ] && printf '    depends_on: [svc%02d]\n' $((i - 1))
  done
  echo "networks:"
  for j in $(seq 0 4); do
    printf '  net%d:\n    ipam:\n      config: [{subnet: 10.%d.0.0/16}]\n' "$j" $((100 + j))
  done
} > "$work/proj/stack.yaml"

median() { # run the command RUNS times, print the median wall time in ms
  local times=()
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null || [ $? -eq 2 ]
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f ms\n", m/1000}'
}

cd "$work/proj"
echo "stack plan, 50 services / 5 networks, empty root:      $(median "$bin" --root "$work/root" plan --detailed-exitcode)"
# A recorded project, as `stack up` leaves it (planner.Apply of the plan),
# but with nothing on the host: plan reads every record and checks every
# container and bridge against the kernel, then plans the repairs — the
# cost of the cross-checks at this size. (The no-op plan with everything
# really up is measured by bench/up.sh.)
(cd "$here" && go run ./bench/planrecord "$work/root" "$work/proj/stack.yaml")
echo "stack plan, 50 services / 5 networks, recorded, cross-checked: $(median "$bin" --root "$work/root" plan --detailed-exitcode)"
