//go:build !linux

package layers

import (
	"archive/tar"
	"errors"
	"io"
)

// Unpacking, diffing and mounting need Linux; elsewhere they return
// errors.ErrUnsupported.

type unpacker struct{ size int64 }

func newUnpacker(string, UnpackOptions) (*unpacker, error) { return nil, errors.ErrUnsupported }
func (u *unpacker) entry(*tar.Header, io.Reader) error     { return errors.ErrUnsupported }
func (u *unpacker) finish() error                          { return errors.ErrUnsupported }
func (u *unpacker) close()                                 {}

func syncfs(string) error { return errors.ErrUnsupported }

// Diff needs Linux.
func Diff(string, io.Writer) error { return errors.ErrUnsupported }

// MountOverlay needs Linux.
func MountOverlay(Rootfs, string) error { return errors.ErrUnsupported }
