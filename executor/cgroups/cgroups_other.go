//go:build !linux

package cgroups

import "errors"

// Detect is Linux-only.
func Detect() (*Host, error) { return nil, errors.ErrUnsupported }

// Create is Linux-only.
func (h *Host) Create(name string, r *Resources) (Cgroup, error) { return nil, errors.ErrUnsupported }

// Open is Linux-only.
func Open(paths map[string]string) Cgroup { return nil }
