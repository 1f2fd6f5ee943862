//go:build !linux

package executor

import (
	"context"
	"errors"

	"github.com/stack-dev/stack/netplan"
)

// OpenNetworks is Linux-only.
func OpenNetworks(root string) (*netplan.Manager, error) { return nil, errors.ErrUnsupported }

// NetCleanupReport says what CleanupNetworks removed.
type NetCleanupReport struct {
	netplan.CleanupReport
	Namespaces []string `json:"namespaces,omitempty"`
}

// CleanupNetworks is Linux-only.
func CleanupNetworks(ctx context.Context, root string) (NetCleanupReport, error) {
	return NetCleanupReport{}, errors.ErrUnsupported
}

// ConnectNetwork is Linux-only.
func ConnectNetwork(ctx context.Context, root, ref string, a NetAttach) (*netplan.Attachment, error) {
	return nil, errors.ErrUnsupported
}

// DisconnectNetwork is Linux-only.
func DisconnectNetwork(ctx context.Context, root, ref, network string) error {
	return errors.ErrUnsupported
}

// ContainerEndpoints is Linux-only.
func ContainerEndpoints(ctx context.Context, root string, c *Container) ([]netplan.ContainerEndpoint, error) {
	return nil, errors.ErrUnsupported
}

// ContainerPorts is Linux-only.
func ContainerPorts(ctx context.Context, root, ref string) (*Container, []netplan.PortBinding, error) {
	return nil, nil, errors.ErrUnsupported
}

// ContainerNetworkSettings is Linux-only.
func ContainerNetworkSettings(ctx context.Context, root string, c *Container) (*NetworkSettings, error) {
	return nil, errors.ErrUnsupported
}
