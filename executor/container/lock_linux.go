package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive flock on dir/name and returns its release.
func Lock(dir, name string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, os.NewSyscallError("flock", err))
	}
	return func() { f.Close() }, nil
}

// UpdateState reads dir/state.json under StateLock, lets fn change it, and
// replaces it atomically (fsynced when sync is set). A missing state file
// reads as base (nil: an empty State). It returns the state written; when
// fn returns an error nothing is written.
func UpdateState(dir string, base *State, sync bool, fn func(st *State) error) (*State, error) {
	unlock, err := Lock(dir, StateLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := ReadState(dir)
	if errors.Is(err, os.ErrNotExist) {
		st, err = &State{}, nil
		if base != nil {
			cp := *base
			st = &cp
		}
	}
	if err != nil {
		return nil, err
	}
	if err := fn(st); err != nil {
		return st, err
	}
	return st, WriteState(dir, st, sync)
}
