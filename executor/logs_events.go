package executor

// Lifecycle events: <root>/events.jsonl, one JSON line per event, in
// docker's shape (`docker events --format json`). The CLI and supervisors
// append with one write(2) each on an O_APPEND file, so concurrent writers
// never interleave within a line.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EventsFile is the event log's name in the state root; past
// eventsMaxSize it is renamed to EventsFile.1 (replacing the older one).
const EventsFile = "events.jsonl"

const eventsMaxSize = 8 << 20

// Event is one lifecycle event of a container.
type Event struct {
	Status   string `json:"status"` // the action, as docker's legacy field
	ID       string `json:"id"`
	From     string `json:"from"` // the image
	Type     string `json:"Type"` // "container"
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what an event is about: the container's ID, and its image,
// name, labels and action-specific attributes (exitCode, signal, ...).
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Event actions.
const (
	EventCreate       = "create"
	EventStart        = "start"
	EventDie          = "die"
	EventStop         = "stop"
	EventKill         = "kill"
	EventPause        = "pause"
	EventUnpause      = "unpause"
	EventDestroy      = "destroy"
	EventRestart      = "restart"
	EventOOM          = "oom"
	EventHealthStatus = "health_status"
)

// emitEvent appends an event about c; attrs add to its attributes. A
// failure to write is ignored: events are a record, not a control path.
func emitEvent(root string, c *Container, action string, attrs map[string]string) {
	now := time.Now()
	a := map[string]string{"image": c.Image, "name": c.Name}
	for k, v := range c.Labels {
		a[k] = v
	}
	for k, v := range attrs {
		a[k] = v
	}
	ev := Event{Status: action, ID: c.ID, From: c.Image, Type: "container", Action: action,
		Actor: Actor{ID: c.ID, Attributes: a}, Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()}
	b, err := json.Marshal(&ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(root, EventsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	if fi, err := f.Stat(); err == nil && fi.Size() > eventsMaxSize {
		p := filepath.Join(root, EventsFile)
		os.Rename(p, p+".1")
	}
	f.Close()
}

// EventFilter selects events: every key must match (docker's --filter
// semantics: values of one key are alternatives). Keys: container (ID,
// ID prefix or name), event (action; "health_status" matches every
// health_status: ... action), label (key or key=value), image, type.
type EventFilter map[string][]string

func (f EventFilter) match(e *Event) bool {
	for k, vals := range f {
		ok := false
		for _, v := range vals {
			switch k {
			case "container":
				ok = strings.HasPrefix(e.ID, v) || e.Actor.Attributes["name"] == v
			case "event", "status":
				ok = e.Action == v || strings.HasPrefix(e.Action, v+":")
			case "label":
				lk, lv, hasV := strings.Cut(v, "=")
				got, present := e.Actor.Attributes[lk]
				ok = present && (!hasV || got == lv)
			case "image":
				ok = e.From == v
			case "type":
				ok = e.Type == v
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// EventOptions select events: Since and Until bound their time (zero:
// unbounded); Follow waits for new ones until ctx ends or Until passes.
type EventOptions struct {
	Since, Until time.Time
	Follow       bool
	Filter       EventFilter
}

// ReadEvents calls fn with the selected events of root, in order.
func ReadEvents(ctx context.Context, root string, opts EventOptions, fn func(Event) error) error {
	path := filepath.Join(root, EventsFile)
	// The rotated file first: it holds the older events.
	if old, err := os.Open(path + ".1"); err == nil {
		err = readEventFile(ctx, old, path, EventOptions{Since: opts.Since, Until: opts.Until, Filter: opts.Filter}, fn)
		old.Close()
		if err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	for errors.Is(err, fs.ErrNotExist) && opts.Follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		if !opts.Until.IsZero() && time.Now().After(opts.Until) {
			return nil
		}
		f, err = os.Open(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return readEventFile(ctx, f, path, opts, fn)
}

// readEventFile reads events from f; following, it goes on with the file
// at path once f was rotated away.
func readEventFile(ctx context.Context, f *os.File, path string, opts EventOptions, fn func(Event) error) error {
	orig := f
	defer func() {
		if f != orig {
			f.Close()
		}
	}()
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		n, rerr := f.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := strings.IndexByte(string(pending), '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			pending = pending[i+1:]
			var e Event
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			t := time.Unix(0, e.TimeNano)
			if !opts.Since.IsZero() && t.Before(opts.Since) {
				continue
			}
			if !opts.Until.IsZero() && !t.Before(opts.Until) {
				return nil
			}
			if opts.Filter != nil && !opts.Filter.match(&e) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if rerr == io.EOF || n == 0 {
			if !opts.Follow {
				return nil
			}
			if cur, err := os.Stat(path); err == nil {
				if fi, err := f.Stat(); err == nil && !os.SameFile(cur, fi) {
					if nf, err := os.Open(path); err == nil {
						if f != orig {
							f.Close()
						}
						f = nf
						pending = nil
						continue
					}
				}
			}
			if !opts.Until.IsZero() && time.Now().After(opts.Until) {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if rerr != nil {
			return rerr
		}
	}
}
