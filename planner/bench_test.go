package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-dev/stack/spec"
)

// GenerateStackFile writes a stack file of n services on m networks: each
// service has a command, environment, a port, resource limits, a
// healthcheck and depends on the previous one, so that loading and
// planning do all their usual work.
func generateStackFile(n, m int) string {
	var b strings.Builder
	b.WriteString("name: bench\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc%02d:\n", i)
		b.WriteString("    image: busybox:latest\n")
		fmt.Fprintf(&b, "    command: [\"sh\", \"-c\", \"echo service %d; exec sleep 3600\"]\n", i)
		fmt.Fprintf(&b, "    environment:\n      INDEX: \"%d\"\n      MODE: production\n", i)
		fmt.Fprintf(&b, "    ports: [\"127.0.0.1:%d:80\"]\n", 20000+i)
		b.WriteString("    mem_limit: 64m\n    cpus: 0.5\n    pids_limit: 64\n")
		b.WriteString("    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\n")
		fmt.Fprintf(&b, "    networks: [net%d]\n", i%m)
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on: [svc%02d]\n", i-1)
		}
	}
	b.WriteString("networks:\n")
	for j := 0; j < m; j++ {
		fmt.Fprintf(&b, "  net%d:\n    ipam:\n      config: [{subnet: 10.%d.0.0/16}]\n", j, 100+j)
	}
	return b.String()
}

// BenchmarkLoadPlan is issue 2's benchmark: spec.Load + Diff of a
// generated 50-service, 5-network file against an empty host. Targets:
// under 5 ms and 2 MiB per operation.
func BenchmarkLoadPlan(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(generateStackFile(50, 5)), 0o644); err != nil {
		b.Fatal(err)
	}
	opts := spec.LoadOptions{Files: []string{path}, Env: map[string]string{}}
	b.ReportAllocs()
	for b.Loop() {
		st, err := spec.Load(opts)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Diff(st, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Steps) != 56 {
			b.Fatalf("%d steps, want 56", len(p.Steps))
		}
	}
}

// BenchmarkPlanConverged plans the same file against the state a
// successful up leaves: the no-op plan, where every snapshot is compared.
func BenchmarkPlanConverged(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(generateStackFile(50, 5)), 0o644); err != nil {
		b.Fatal(err)
	}
	st, err := spec.Load(spec.LoadOptions{Files: []string{path}, Env: map[string]string{}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := Diff(st, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	obs := Apply(nil, p, st)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Diff(st, obs, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !p.Empty() {
			b.Fatalf("converged plan is not empty:\n%s", p)
		}
	}
}
