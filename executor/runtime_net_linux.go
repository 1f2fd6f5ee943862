package executor

// setupNetwork wires the container's network before it first starts; dir
// is the container's directory being filled (its hosts and resolv.conf
// files are there). It may set c.Runtime.Namespaces.NetPath and c.Net.
func setupNetwork(root string, c *Container, dir string) error { return nil }

// teardownNetwork undoes setupNetwork; it is idempotent.
func teardownNetwork(root string, c *Container) error { return nil }
