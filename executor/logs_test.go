package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logRoot makes a state root with one container directory holding only a
// record, as ReadLogs needs.
func logRoot(t *testing.T) (root, id, dir string) {
	root = t.TempDir()
	id = strings.Repeat("ab", 32)
	dir = containerDir(root, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"id":"`+id+`"}`), 0o600)
	return root, id, dir
}

func readAll(t *testing.T, root, id string, o LogOptions) []LogEntry {
	t.Helper()
	var got []LogEntry
	if err := ReadLogs(context.Background(), root, id, o, func(e LogEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLogWriterAndReader(t *testing.T) {
	root, id, dir := logRoot(t)
	w, err := openLogWriter(dir, logConfig{maxSize: 1 << 20, maxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() { w.pump(pr, "stdout"); close(done) }()
	pw.Write([]byte("one\ntw"))
	pw.Write([]byte("o\n\"quoted\" <tag> \x01 \xff\nlast without newline"))
	pw.Close()
	<-done
	w.close()
	got := readAll(t, root, id, LogOptions{Tail: -1})
	want := []string{"one\n", "two\n", "\"quoted\" <tag> \x01 \uFFFD\n", "last without newline"}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	for i, e := range got {
		if e.Log != want[i] || e.Stream != "stdout" || e.Time.IsZero() {
			t.Errorf("entry %d = %+v, want %q", i, e, want[i])
		}
	}
	// Each line of the file is valid JSON with time, stream and log.
	b, _ := os.ReadFile(filepath.Join(dir, LogFile))
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || len(m) != 3 {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	if tail := readAll(t, root, id, LogOptions{Tail: 2}); len(tail) != 2 || tail[1].Log != "last without newline" {
		t.Fatalf("tail 2: %+v", tail)
	}
	if none := readAll(t, root, id, LogOptions{Tail: 0}); len(none) != 0 {
		t.Fatalf("tail 0: %+v", none)
	}
}

func TestLogSinceUntilAndRotation(t *testing.T) {
	root, id, dir := logRoot(t)
	w, err := openLogWriter(dir, logConfig{maxSize: 300, maxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		w.write("stderr", []byte("line\n"), base.Add(time.Duration(i)*time.Second))
	}
	w.close()
	if _, err := os.Stat(filepath.Join(dir, LogFile+".2")); err != nil {
		t.Fatalf("no second rotated file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LogFile+".3")); err == nil {
		t.Fatal("more than max-file files")
	}
	all := readAll(t, root, id, LogOptions{Tail: -1})
	if len(all) == 0 || !all[len(all)-1].Time.Equal(base.Add(39*time.Second)) {
		t.Fatalf("last entry %+v", all[len(all)-1])
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatal("entries out of order across files")
		}
	}
	win := readAll(t, root, id, LogOptions{Tail: -1, Since: base.Add(35 * time.Second), Until: base.Add(38 * time.Second)})
	if len(win) != 3 {
		t.Fatalf("since/until: %d entries", len(win))
	}
}

func TestParseLogOpts(t *testing.T) {
	lc, err := parseLogOpts(map[string]string{"max-size": "1k", "max-file": "5"})
	if err != nil || lc.maxSize != 1024 || lc.maxFiles != 5 {
		t.Fatalf("%+v %v", lc, err)
	}
	if lc, _ := parseLogOpts(nil); lc.maxSize != 10<<20 || lc.maxFiles != 3 {
		t.Fatalf("defaults %+v", lc)
	}
	for _, bad := range []map[string]string{{"max-size": "x"}, {"max-file": "0"}, {"mode": "non-blocking"}} {
		if _, err := parseLogOpts(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestEventsFilterAndRotation(t *testing.T) {
	root := t.TempDir()
	a := &Container{ID: strings.Repeat("a", 64), Name: "web", Image: "busybox", Labels: map[string]string{"app": "x"}}
	b := &Container{ID: strings.Repeat("b", 64), Name: "db", Image: "busybox"}
	emitEvent(root, a, EventStart, nil)
	emitEvent(root, b, EventStart, nil)
	emitEvent(root, a, EventHealthStatus+": healthy", nil)
	// A rotated file is read first.
	p := filepath.Join(root, EventsFile)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	emitEvent(root, a, EventDie, map[string]string{"exitCode": "3"})
	read := func(f EventFilter) string {
		var got []string
		ReadEvents(context.Background(), root, EventOptions{Filter: f}, func(e Event) error {
			got = append(got, e.Actor.Attributes["name"]+" "+e.Action)
			return nil
		})
		return strings.Join(got, ",")
	}
	if got := read(nil); got != "web start,db start,web health_status: healthy,web die" {
		t.Fatalf("all: %s", got)
	}
	if got := read(EventFilter{"label": {"app=x"}, "event": {"health_status", "die"}}); got != "web health_status: healthy,web die" {
		t.Fatalf("filtered: %s", got)
	}
	if got := read(EventFilter{"container": {"db"}}); got != "db start" {
		t.Fatalf("by name: %s", got)
	}
}

func TestLogFollowAcrossRotation(t *testing.T) {
	root, id, dir := logRoot(t)
	os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"status":"running"}`), 0o644)
	w, err := openLogWriter(dir, logConfig{maxSize: 600, maxFiles: 5})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; i < 60; i++ {
			w.write("stdout", []byte(fmt.Sprintf("line %d\n", i)), time.Now())
			time.Sleep(5 * time.Millisecond)
		}
		w.close()
		os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"status":"exited"}`), 0o644)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	err = ReadLogs(ctx, root, id, LogOptions{Follow: true, Tail: -1}, func(e LogEntry) error {
		got = append(got, strings.TrimSpace(e.Log))
		return nil
	})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("follow: %v %v", err, ctx.Err())
	}
	if len(got) != 60 || got[0] != "line 0" || got[59] != "line 59" {
		t.Fatalf("followed %d lines: %q", len(got), got)
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}
