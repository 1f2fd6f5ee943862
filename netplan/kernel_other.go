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

// CreateNetNS makes a persistent network namespace (Linux only).
func CreateNetNS(path string) error {
	return fmt.Errorf("network namespace: %w", errors.ErrUnsupported)
}

// RemoveNetNS removes a persistent network namespace (Linux only).
func RemoveNetNS(path string) error {
	return fmt.Errorf("network namespace: %w", errors.ErrUnsupported)
}

// IsNetNS reports whether path is a network namespace file (Linux only).
func IsNetNS(path string) bool { return false }
