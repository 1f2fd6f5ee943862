package netplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// The store keeps one JSON file per network under <root>/networks/, written
// atomically (temp file, fsync, rename). Writers hold an exclusive flock on
// <root>/networks/.lock for the whole read-modify-write-and-apply sequence;
// readers never lock.

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

func validName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("network name %q: want letters, digits, '_', '.', '-', starting with a letter or digit, at most 64", name)
	}
	return nil
}

type store struct{ dir string }

func (s store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// lock takes the writers' lock; the returned func releases it.
func (s store) lock() (func(), error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", s.dir, err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening network lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing drops the flock
}

func (s store) load(name string) (*Network, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("network %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading network %s: %w", name, err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("reading network %s: %s: %w", name, s.path(name), err)
	}
	if n.Endpoints == nil {
		n.Endpoints = map[string]*Endpoint{}
	}
	return &n, nil
}

func (s store) loadAll() ([]*Network, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		n, err := s.load(name)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return sortedNetworks(out), nil
}

func (s store) save(n *Network) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding network %s: %w", n.Name, err)
	}
	return writeAtomic(s.path(n.Name), append(b, '\n'))
}

func (s store) remove(name string) error {
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing network record %s: %w", name, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}
