//go:build !linux

package container

import "errors"

// HostDevices is Linux-only.
func HostDevices() ([]Device, error) { return nil, errors.ErrUnsupported }

// DeviceFromPath is Linux-only.
func DeviceFromPath(host, ctr string) (Device, error) { return Device{}, errors.ErrUnsupported }
