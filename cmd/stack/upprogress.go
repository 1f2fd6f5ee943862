package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/planner"
)

// upProgress prints what up and down do, one line per step:
// `✔ network/front created 0.02s`. Modes: plain lines; tty (the same lines,
// with the steps in flight shown on a status line that is rewritten);
// json (one object per line, for scripts). auto is tty on a terminal.
type upProgress struct {
	mu   sync.Mutex
	w    io.Writer
	mode string
	// tty: the steps in flight, shown on a status line below the done ones.
	running map[string]time.Time
	status  bool // a status line is on the screen
}

func newUpProgress(w io.Writer, mode string) *upProgress {
	if mode == "auto" || mode == "" {
		mode = "plain"
		if f, ok := w.(*os.File); ok && colorOutput(f) {
			mode = "tty"
		}
	}
	return &upProgress{w: w, mode: mode, running: map[string]time.Time{}}
}

func validProgress(mode string) error {
	switch mode {
	case "auto", "tty", "plain", "json":
		return nil
	}
	return fmt.Errorf("--progress %q: want auto, tty, plain or json", mode)
}

// line prints a message line (not in json mode).
func (p *upProgress) line(format string, args ...any) {
	if p.mode == "json" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintf(p.w, format+"\n", args...)
}

var doneWords = map[planner.Operation]string{
	planner.OpCreate: "created", planner.OpRemove: "removed", planner.OpReplace: "replaced",
	planner.OpPull: "pulled", planner.OpBuild: "built", planner.OpCommit: "committed",
	planner.OpStart: "started", planner.OpRestart: "restarted", planner.OpUpdate: "updated",
	planner.OpRepairRules: "rules repaired",
}

// step reports one plan step starting or finished.
func (p *upProgress) step(e executor.StepEvent) {
	if e.Step == nil {
		return
	}
	if !e.Done {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch p.mode {
		case "tty":
			p.running[e.Step.Resource] = time.Now()
			p.drawStatus()
		case "json":
			json.NewEncoder(p.w).Encode(map[string]any{"resource": e.Step.Resource, "status": "started", "operation": e.Step.Operation})
		}
		return
	}
	word := doneWords[e.Step.Operation]
	if e.Phase == "teardown" && e.Step.Action == planner.Replace {
		word = "removed (to be replaced)"
	}
	p.resource(e.Step.Resource, word, e.Err, e.Elapsed)
}

// resource reports one finished action on a resource.
func (p *upProgress) resource(res, word string, err error, elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "json" {
		ev := map[string]any{"resource": res, "status": word, "seconds": elapsed.Seconds()}
		if err != nil {
			ev["status"], ev["error"] = "failed", err.Error()
		}
		json.NewEncoder(p.w).Encode(ev)
		return
	}
	mark, ok, ko := "✔", "", ""
	if p.mode == "tty" {
		ok, ko = "\x1b[32m", "\x1b[31m"
		p.clearStatus()
		delete(p.running, res)
		defer p.drawStatus()
	}
	if err != nil {
		fmt.Fprintf(p.w, "%s✘%s %s failed %.2fs: %v\n", ko, reset(p.mode), res, elapsed.Seconds(), err)
		return
	}
	fmt.Fprintf(p.w, "%s%s%s %s %s %.2fs\n", ok, mark, reset(p.mode), res, word, elapsed.Seconds())
}

// drawStatus shows the steps in flight on one line (tty mode; p.mu held).
func (p *upProgress) drawStatus() {
	p.clearStatus()
	if len(p.running) == 0 {
		return
	}
	names := make([]string, 0, len(p.running))
	for r := range p.running {
		names = append(names, r)
	}
	sort.Strings(names)
	line := "⠿ " + strings.Join(names, ", ")
	if len(line) > 100 {
		line = line[:97] + "..."
	}
	fmt.Fprintf(p.w, "\x1b[2m%s\x1b[0m", line)
	p.status = true
}

// clearStatus erases the status line (tty mode; p.mu held).
func (p *upProgress) clearStatus() {
	if p.status {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.status = false
	}
}

func reset(mode string) string {
	if mode == "tty" {
		return "\x1b[0m"
	}
	return ""
}

// output is where build and commit output goes: the progress stream,
// through the lock (and under the status line on a terminal), except in
// json mode.
func (p *upProgress) output() io.Writer {
	if p.mode == "json" {
		return io.Discard
	}
	return progressWriter{p}
}

type progressWriter struct{ p *upProgress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.p.clearStatus()
	n, err := w.p.w.Write(b)
	if w.p.mode == "tty" && len(b) > 0 && b[len(b)-1] == '\n' {
		w.p.drawStatus()
	}
	return n, err
}
