package executor

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// projectLock serializes up/down of one project: an exclusive flock on
// <root>/projects/<name>.lock. Different projects lock different files and
// run side by side. The kernel drops the lock when the process dies, so a
// SIGKILLed `stack up` never leaves a stale lock.
type projectLock struct{ f *os.File }

func lockProject(root, project string) (*projectLock, error) {
	dir := filepath.Join(root, "projects")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("locking project %s: %w", project, err)
	}
	path := filepath.Join(dir, project+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking project %s: %w", project, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking project %s: %w", project, os.NewSyscallError("flock", err))
	}
	return &projectLock{f: f}, nil
}

func (l *projectLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
