//go:build !linux

package container

import "errors"

// Init is Linux-only.
func Init() int { return 1 }

// ExecInit is Linux-only.
func ExecInit() int { return 1 }

// Start is Linux-only.
func Start(cfg *Config, o StartOptions) (*Task, error) { return nil, errors.ErrUnsupported }

// Exec is Linux-only.
func Exec(pid int, p *Process, o StartOptions) (*Task, error) { return nil, errors.ErrUnsupported }

// DefaultSeccomp is Linux-only.
func DefaultSeccomp(caps []string, cacheDir string) ([]byte, error) {
	return nil, errors.ErrUnsupported
}

// SeccompFromJSON is Linux-only.
func SeccompFromJSON(body []byte, caps []string) ([]byte, error) { return nil, errors.ErrUnsupported }

// ProcessStartTime is Linux-only.
func ProcessStartTime(pid int) (uint64, error) { return 0, errors.ErrUnsupported }

// Alive is Linux-only.
func Alive(pid int, start uint64) bool { return false }

// Pending is Linux-only.
type Pending struct{}

// Spawn is Linux-only.
func Spawn(ns Namespaces, terminal bool, pdeathsig int, o StartOptions) (*Pending, error) {
	return nil, errors.ErrUnsupported
}

// Pid is Linux-only.
func (p *Pending) Pid() int { return 0 }

// Start is Linux-only.
func (p *Pending) Start(cfg *Config, cg Joiner, onCreate func(pid int) error) (*Task, error) {
	return nil, errors.ErrUnsupported
}

// Abort is Linux-only.
func (p *Pending) Abort() {}

// Lock is Linux-only.
func Lock(dir, name string) (func(), error) { return nil, errors.ErrUnsupported }

// UpdateState is Linux-only.
func UpdateState(dir string, base *State, sync bool, fn func(st *State) error) (*State, error) {
	return nil, errors.ErrUnsupported
}
