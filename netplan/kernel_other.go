//go:build !linux

package netplan

import (
	"errors"
	"fmt"
)

func newKernel(string) (kernel, error) {
	return nil, fmt.Errorf("bridge networking: %w", errors.ErrUnsupported)
}

// LoopbackUp brings lo up in a namespace (Linux only).
func LoopbackUp(ns NetNS) error { return fmt.Errorf("loopback: %w", errors.ErrUnsupported) }
