package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchFile generates a stack file with n services spread over nets
// networks, each service using the common fields (ports, environment,
// limits, healthcheck, depends_on, volumes, labels).
func benchFile(n, nets int) string {
	var b strings.Builder
	b.WriteString("name: bench\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `  svc%d:
    image: busybox:latest
    command: ["sh", "-c", "sleep 3600"]
    environment:
      INDEX: "%d"
      MODE: production
    labels:
      app.tier: "t%d"
    ports:
      - "127.0.0.1:%d:80"
    networks:
      net%d:
        aliases: [alias%d]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 64
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
      retries: 3
    volumes:
      - data%d:/data
`, i, i, i%3, 20000+i, i%nets, i, i%nets)
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on:\n      svc%d:\n        condition: service_healthy\n", i-1)
		}
	}
	b.WriteString("networks:\n")
	for j := 0; j < nets; j++ {
		fmt.Fprintf(&b, "  net%d:\n    ipam:\n      config:\n        - subnet: 172.30.%d.0/24\n", j, j)
	}
	b.WriteString("volumes:\n")
	for j := 0; j < nets; j++ {
		fmt.Fprintf(&b, "  data%d: {}\n", j)
	}
	return b.String()
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(benchFile(50, 5)), 0o644); err != nil {
		b.Fatal(err)
	}
	opts := LoadOptions{Files: []string{path}, Env: map[string]string{}}
	if _, err := Load(opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConfigHash(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(benchFile(50, 5)), 0o644); err != nil {
		b.Fatal(err)
	}
	st, err := Load(LoadOptions{Files: []string{path}, Env: map[string]string{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range st.Services {
			_ = s.ConfigHash()
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, and a
// failure must be a *Error whose diagnostics all have a position.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(benchFile(2, 1)))
	f.Add([]byte("services:\n  a:\n    image: x\n    <<: *b\n"))
	f.Add([]byte("x: &a [*a]\n"))
	f.Add([]byte("services:\n  a: {extends: a}\n"))
	f.Add([]byte("services:\n  a:\n    image: ${X:?y}\n    ports: [{target: 80, published: 70000}]\n"))
	f.Add([]byte("include: [stack.yaml]\nservices: {}\n"))
	f.Add([]byte("services:\n  a:\n    image: x\n    networks: {n: {ipv4_address: 10.0.0.1}}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.0.0.0/8}, {subnet: 10.1.0.0/16}]}}\n"))
	if files, _ := filepath.Glob("../golden/errors/*/stack.yaml"); len(files) > 0 {
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "stack.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(LoadOptions{Files: []string{path}, Env: map[string]string{"HOME": "/home/user"}})
		if err == nil {
			return
		}
		serr, ok := err.(*Error)
		if !ok {
			return // e.g. an invalid project name from the directory: not about the content
		}
		for _, d := range serr.Diagnostics {
			if d.Pos.File == "" || d.Pos.Line == 0 {
				t.Fatalf("diagnostic without a position: %s", d)
			}
		}
	})
}
