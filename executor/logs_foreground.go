package executor

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// ForegroundLog keeps the log of a container that `stack run` runs in the
// foreground (docker keeps one too: `stack logs` works on it afterwards).
// Its writers pass everything to the terminal's writers and append whole
// lines to the container's log. The log file is opened on the first
// write: the container's directory exists by then (its command runs only
// after the container is created), even when the writers were handed to an
// init started early.
type ForegroundLog struct {
	root string
	opts map[string]string

	idMu sync.Mutex
	id   string

	once sync.Once
	lw   *logWriter // nil when the log cannot be opened: output still flows

	Stdout, Stderr io.Writer
	out, errw      *lineTee
}

// NewForegroundLog returns the writers for a container's output; SetID
// names the container before its command runs.
func NewForegroundLog(root string, logOpts map[string]string, stdout, stderr io.Writer) *ForegroundLog {
	f := &ForegroundLog{root: root, opts: logOpts}
	f.out = &lineTee{f: f, w: stdout, stream: "stdout"}
	f.errw = &lineTee{f: f, w: stderr, stream: "stderr"}
	f.Stdout, f.Stderr = f.out, f.errw
	return f
}

// SetID names the container whose log this is.
func (f *ForegroundLog) SetID(id string) {
	f.idMu.Lock()
	f.id = id
	f.idMu.Unlock()
}

func (f *ForegroundLog) writer() *logWriter {
	f.once.Do(func() {
		f.idMu.Lock()
		id := f.id
		f.idMu.Unlock()
		cfg, err := parseLogOpts(f.opts)
		if err != nil || id == "" {
			return
		}
		f.lw, _ = openLogWriter(containerDir(f.root, id), cfg)
	})
	return f.lw
}

// Close writes what is left of unfinished lines and closes the log.
func (f *ForegroundLog) Close() {
	f.out.flush()
	f.errw.flush()
	if f.lw != nil {
		f.lw.close()
	}
}

// lineTee passes writes on and logs them line by line.
type lineTee struct {
	f      *ForegroundLog
	w      io.Writer
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (t *lineTee) Write(b []byte) (int, error) {
	n, err := t.w.Write(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	lw := t.f.writer()
	if lw == nil {
		return n, err
	}
	data := b
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.buf = append(t.buf, data...)
			for len(t.buf) >= partialLine {
				lw.write(t.stream, t.buf[:partialLine], time.Now())
				t.buf = append(t.buf[:0], t.buf[partialLine:]...)
			}
			break
		}
		if len(t.buf) > 0 {
			t.buf = append(t.buf, data[:i+1]...)
			lw.write(t.stream, t.buf, time.Now())
			t.buf = t.buf[:0]
		} else {
			lw.write(t.stream, data[:i+1], time.Now())
		}
		data = data[i+1:]
	}
	return n, err
}

func (t *lineTee) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > 0 && t.f.lw != nil {
		t.f.lw.write(t.stream, t.buf, time.Now())
		t.buf = nil
	}
}
