package executor

// Container logs: what a detached container writes to its stdout and
// stderr, as JSON lines ({"time":..., "stream":"stdout", "log":"...\n"})
// in <root>/containers/<id>/container.log, rotated by size into
// container.log.1, .2, ... (docker's json-file driver, with its
// max-size and max-file options). The supervisor is the only writer; it
// writes each line with one write(2) on an O_APPEND file, so the container
// never waits for a reader and a reader never sees a line half-written
// (it holds back a last line without its newline until the rest comes).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/spec"
)

// LogFile is the name of a container's current log file.
const LogFile = "container.log"

// Log rotation defaults (docker's json-file has none; stack keeps 3 × 10 MB).
const (
	defaultLogMaxSize  = 10 << 20
	defaultLogMaxFiles = 3
	// partialLine is where a line without a newline is cut (docker's 16 KiB).
	partialLine = 16 << 10
)

// LogEntry is one line of a container's output.
type LogEntry struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Log    string    `json:"log"`    // with its newline, if it had one
}

// LogOptions select what ReadLogs and FollowLogs give: the last Tail
// entries (negative: all), those at or after Since and before Until (zero:
// unbounded), and with Follow the new ones as they come until the
// container stops or ctx ends.
type LogOptions struct {
	Follow     bool
	Tail       int
	Since      time.Time
	Until      time.Time
	Timestamps bool // FollowLogs: prefix each line with its time (RFC 3339)
}

// logConfig is a container's rotation: max bytes per file, files kept.
type logConfig struct {
	maxSize  int64
	maxFiles int
}

// parseLogOpts checks --log-opt values (max-size, max-file).
func parseLogOpts(opts map[string]string) (logConfig, error) {
	lc := logConfig{maxSize: defaultLogMaxSize, maxFiles: defaultLogMaxFiles}
	for k, v := range opts {
		switch k {
		case "max-size":
			if v == "-1" {
				lc.maxSize = 0
				continue
			}
			n, err := spec.ParseBytes(v)
			if err != nil || n <= 0 {
				return lc, fmt.Errorf("invalid --log-opt max-size=%s: want a size such as 10m", v)
			}
			lc.maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return lc, fmt.Errorf("invalid --log-opt max-file=%s: want a positive integer", v)
			}
			lc.maxFiles = n
		default:
			return lc, fmt.Errorf("unknown log opt '%s' for the json-file log driver", k)
		}
	}
	return lc, nil
}

// logWriter appends entries to a container's log, rotating it by size.
type logWriter struct {
	mu   sync.Mutex
	dir  string
	cfg  logConfig
	f    *os.File
	size int64
	buf  []byte
	// tee, when set, also gets every chunk a pump reads (the attached
	// clients of a supervisor).
	tee func(stream string, b []byte)
}

func openLogWriter(dir string, cfg logConfig) (*logWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening container log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening container log: %w", err)
	}
	return &logWriter{dir: dir, cfg: cfg, f: f, size: st.Size()}, nil
}

// write appends one entry. Errors (a full disk) drop the entry: the
// container must never block on its log.
func (w *logWriter) write(stream string, line []byte, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf[:0]
	b = append(b, `{"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","stream":"`...)
	b = append(b, stream...)
	b = append(b, `","log":`...)
	b = appendJSONString(b, line)
	b = append(b, "}\n"...)
	w.buf = b
	if w.cfg.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.cfg.maxSize {
		w.rotate()
	}
	if n, err := w.f.Write(b); err == nil {
		w.size += int64(n)
	}
}

// rotate renames container.log to .1, .1 to .2, ..., dropping the oldest.
func (w *logWriter) rotate() {
	base := filepath.Join(w.dir, LogFile)
	if w.cfg.maxFiles <= 1 {
		w.f.Truncate(0)
		w.size = 0
		return
	}
	os.Remove(fmt.Sprintf("%s.%d", base, w.cfg.maxFiles-1))
	for i := w.cfg.maxFiles - 2; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", base, i), fmt.Sprintf("%s.%d", base, i+1))
	}
	os.Rename(base, base+".1")
	f, err := os.OpenFile(base, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return // keep writing to the renamed file
	}
	w.f.Close()
	w.f, w.size = f, 0
}

func (w *logWriter) close() {
	w.mu.Lock()
	w.f.Close()
	w.mu.Unlock()
}

// pump copies r (a container's stdout or stderr) into the log line by
// line until EOF; a line longer than partialLine is cut there.
func (w *logWriter) pump(r io.Reader, stream string) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		data := chunk[:n]
		if n > 0 && w.tee != nil {
			w.tee(stream, data)
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				buf = append(buf, data...)
				data = nil
				for len(buf) >= partialLine {
					w.write(stream, buf[:partialLine], time.Now())
					buf = append(buf[:0], buf[partialLine:]...)
				}
				break
			}
			if len(buf) > 0 {
				buf = append(buf, data[:i+1]...)
				w.write(stream, buf, time.Now())
				buf = buf[:0]
			} else {
				w.write(stream, data[:i+1], time.Now())
			}
			data = data[i+1:]
		}
		if err != nil {
			if len(buf) > 0 {
				w.write(stream, buf, time.Now())
			}
			return
		}
	}
}

// appendJSONString appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// logFiles lists a container's log files, oldest first.
func logFiles(dir string) []string {
	base := filepath.Join(dir, LogFile)
	var rotated []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", base, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		rotated = append(rotated, p)
	}
	out := make([]string, 0, len(rotated)+1)
	for i := len(rotated) - 1; i >= 0; i-- {
		out = append(out, rotated[i])
	}
	return append(out, base)
}

// ReadLogs calls fn with the container's log entries that opts select, in
// order; with opts.Follow it then waits for new ones until the container
// is no longer running (nor restarting), ctx ends or Until passes.
func ReadLogs(ctx context.Context, root, ref string, opts LogOptions, fn func(LogEntry) error) error {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return err
	}
	dir := containerDir(root, id)
	keep := func(e *LogEntry) bool {
		return (opts.Since.IsZero() || !e.Time.Before(opts.Since)) && (opts.Until.IsZero() || e.Time.Before(opts.Until))
	}
	// The tail: every selected entry of every file, the last Tail kept.
	var ring []LogEntry
	emit := fn
	if opts.Tail >= 0 {
		emit = func(e LogEntry) error {
			if opts.Tail == 0 {
				return nil
			}
			if len(ring) == opts.Tail {
				ring = append(ring[:0], ring[1:]...)
			}
			ring = append(ring, e)
			return nil
		}
	}
	files := logFiles(dir)
	var cur *os.File
	var pending []byte
	for i, p := range files {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading logs of %s: %w", id, err)
		}
		rest, err := readEntries(f, nil, keep, emit)
		if err != nil {
			f.Close()
			return err
		}
		if i == len(files)-1 {
			cur, pending = f, rest
		} else {
			f.Close()
		}
	}
	for _, e := range ring {
		if err := fn(e); err != nil {
			if cur != nil {
				cur.Close()
			}
			return err
		}
	}
	if !opts.Follow {
		if cur != nil {
			cur.Close()
		}
		return nil
	}
	return followLog(ctx, dir, cur, pending, opts, keep, fn)
}

// followLog reads what is appended to the current log file (and, after a
// rotation, to the new one) until the container stops.
func followLog(ctx context.Context, dir string, cur *os.File, pending []byte, opts LogOptions, keep func(*LogEntry) bool, fn func(LogEntry) error) error {
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	base := filepath.Join(dir, LogFile)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, serr := container.ReadState(dir)
		var err error
		if cur != nil {
			if pending, err = readEntries(cur, pending, keep, fn); err != nil {
				return err
			}
		}
		// A rotation: finish the old file, go on with the new one.
		if fi, err := os.Stat(base); err == nil {
			if cur == nil {
				if cur, err = os.Open(base); err == nil {
					pending = nil
					continue
				}
			} else if old, err := cur.Stat(); err == nil && !os.SameFile(fi, old) {
				if _, err = readEntries(cur, pending, keep, fn); err != nil {
					return err
				}
				cur.Close()
				cur, pending = nil, nil
				// More than one rotation since the last look: the files
				// made after ours are rotated ones now, read them in order.
				for _, f := range openNewer(dir, old) {
					_, err = readEntries(f, nil, keep, fn)
					f.Close()
					if err != nil {
						return err
					}
				}
				continue
			}
		}
		if serr != nil && errors.Is(serr, fs.ErrNotExist) {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return nil // removed
			}
		}
		// The state read before the last read of the file: an ended
		// container's last lines were written before it recorded the end.
		if serr == nil && !st.Status.Active() {
			return nil
		}
		if !opts.Until.IsZero() && time.Now().After(opts.Until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// openNewer opens the rotated log files made after the file old, oldest
// first (all of them when old is gone).
func openNewer(dir string, old os.FileInfo) []*os.File {
	files := logFiles(dir)
	rotated := files[:len(files)-1]
	start := 0
	for i, p := range rotated {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, old) {
			start = i + 1
		}
	}
	var out []*os.File
	for _, p := range rotated[start:] {
		if f, err := os.Open(p); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// readEntries decodes the complete lines of f from its offset on; the
// bytes of an incomplete last line are returned to be read again with the
// rest.
func readEntries(f *os.File, pending []byte, keep func(*LogEntry) bool, fn func(LogEntry) error) ([]byte, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			pending = append(pending, line...)
			continue
		}
		if err != nil { // io.EOF: keep the partial line
			return append(pending, line...), nil
		}
		if len(pending) > 0 {
			line = append(pending, line...)
			pending = nil
		}
		var e LogEntry
		if json.Unmarshal(line, &e) != nil {
			continue // a line damaged by a crash: skip it
		}
		if !keep(&e) {
			continue
		}
		if err := fn(e); err != nil {
			return nil, err
		}
	}
}

// FollowLogs writes the entries ReadLogs selects to w (both streams), each
// prefixed with its time when opts.Timestamps is set.
func FollowLogs(ctx context.Context, root, ref string, opts LogOptions, w io.Writer) error {
	return ReadLogs(ctx, root, ref, opts, func(e LogEntry) error {
		return writeEntry(w, e, opts.Timestamps)
	})
}

func writeEntry(w io.Writer, e LogEntry, timestamps bool) error {
	if timestamps {
		if _, err := io.WriteString(w, e.Time.UTC().Format(time.RFC3339Nano)+" "); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, e.Log)
	return err
}

// WriteLogEntry writes one entry as FollowLogs does (for callers of
// ReadLogs that split the streams).
func WriteLogEntry(w io.Writer, e LogEntry, timestamps bool) error {
	return writeEntry(w, e, timestamps)
}
