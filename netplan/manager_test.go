package netplan

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernel records links and the last ruleset; failWire makes wiring fail.
type fakeKernel struct {
	links    map[string]string // name → alias
	routes   []Claim
	rules    *Ruleset
	failWire error
	proxies  map[int]bool
	nextPid  int
	portsF   fakePorts
}

var _ kernel = (*fakeKernel)(nil)

func newFake() *fakeKernel {
	return &fakeKernel{links: map[string]string{}, proxies: map[int]bool{}, nextPid: 1000, portsF: fakePorts{busy: map[string]bool{}}}
}

func (f *fakeKernel) hostRoutes() ([]Claim, error) { return f.routes, nil }
func (f *fakeKernel) ensureBridge(n *Network, alias string) error {
	f.links[n.Bridge] = alias
	return nil
}
func (f *fakeKernel) linkExists(name string) (bool, error) { _, ok := f.links[name]; return ok, nil }
func (f *fakeKernel) deleteLink(name string) error         { delete(f.links, name); return nil }
func (f *fakeKernel) stackLinks(alias string) ([]string, error) {
	var out []string
	for n, a := range f.links {
		if a == alias && isStackLink(n) {
			out = append(out, n)
		}
	}
	return out, nil
}
func (f *fakeKernel) wire(n *Network, e *Endpoint, ns NetNS, alias string) error {
	if f.failWire != nil {
		f.links[e.Veth] = alias // half-made, as a real failure may leave it
		return f.failWire
	}
	f.links[e.Veth] = alias
	return nil
}
func (f *fakeKernel) applyRules(rs Ruleset, how ruleApply) error {
	if how == rulesRemove {
		f.rules = nil
	} else {
		f.rules = &rs
	}
	return nil
}
func (f *fakeKernel) tableExists(string) (bool, error) { return f.rules != nil, nil }
func (f *fakeKernel) ruleKeys(string) (map[string]bool, error) {
	if f.rules == nil {
		return nil, nil
	}
	keys := map[string]bool{}
	for _, ch := range f.rules.Chains {
		for _, r := range ch.Rules {
			keys[ch.Name+"\x00"+r.String()] = true
		}
	}
	return keys, nil
}
func (f *fakeKernel) bridgeOK(n *Network) (bool, error) { _, ok := f.links[n.Bridge]; return ok, nil }
func (f *fakeKernel) ports() PortChecker                { return &f.portsF }
func (f *fakeKernel) startProxy(cmd []string, b PortBinding, t netip.AddrPort, tag string) (int, error) {
	f.nextPid++
	f.proxies[f.nextPid] = true
	return f.nextPid, nil
}
func (f *fakeKernel) stopProxy(pid int, tag string) { delete(f.proxies, pid) }
func (f *fakeKernel) orphanProxies(string) []int {
	var out []int
	for p := range f.proxies {
		out = append(out, p)
	}
	return out
}
func (f *fakeKernel) close() error { return nil }

func fakeManager(t *testing.T) (*Manager, *fakeKernel) {
	f := newFake()
	return &Manager{root: t.TempDir(), st: store{dir: filepath.Join(t.TempDir(), "networks")}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		pools: DefaultPools, proxy: []string{"x"}, k: f}, f
}

func TestManagerRecords(t *testing.T) {
	m, f := fakeManager(t)
	ctx := context.Background()
	f.routes = []Claim{{Prefix: pfx("172.18.0.0/16"), Owner: "host route 172.18.0.0/16 dev eth9"}}
	a, err := m.CreateNetwork(ctx, NetworkConfig{Name: "a"})
	if err != nil || a.Subnet.Prefix.String() != "172.19.0.0/16" {
		t.Fatalf("%v %v", a, err)
	}
	br, err := m.CreateNetwork(ctx, NetworkConfig{Name: DefaultNetwork})
	if err != nil || br.Subnet.Prefix.String() != "172.17.0.0/16" {
		t.Fatalf("%v %v", br, err)
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "bad name!"}); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "c", Options: map[string]string{"com.docker.network.bridge.name": a.Bridge}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("shared bridge name: %v", err)
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "c", Options: map[string]string{"x": "1"}}); err == nil {
		t.Fatal("unknown option accepted")
	}

	// a failing wire leaves nothing: no endpoint, no veth, ports free again
	dir := t.TempDir()
	f.failWire = errors.New("boom")
	_, err = m.Attach(ctx, AttachConfig{ContainerID: "c1", Name: "one", Network: "a", NetNS: NetNS{Path: "/x"},
		Ports: []PortMap{{HostPort: 8080, ContainerPort: 80}, {HostIP: "::1", HostPort: 8080, ContainerPort: 80}}})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("attach: %v", err)
	}
	if len(f.links) != 2 || len(f.proxies) != 0 {
		t.Fatalf("left after failed attach: %v %v", f.links, f.proxies)
	}
	f.failWire = nil
	att, err := m.Attach(ctx, AttachConfig{ContainerID: "c1", Name: "one", Network: "a", NetNS: NetNS{Path: "/x"},
		Ports: []PortMap{{HostPort: 8080, ContainerPort: 80}, {HostIP: "::1", HostPort: 8080, ContainerPort: 80}},
		Hosts: HostsSpec{Path: filepath.Join(dir, "one.hosts"), Hostname: "one"}})
	if err != nil || att.IP.String() != "172.19.0.2" || len(f.proxies) != 1 {
		t.Fatalf("attach: %v %v %v", att, err, f.proxies)
	}
	if !strings.Contains(f.rules.String(), "dnat to 172.19.0.2:80") {
		t.Fatalf("rules:\n%s", f.rules)
	}
	// its own hosts file unwritable (a directory is there): the attach fails
	os.Mkdir(filepath.Join(dir, "bad.hosts"), 0o755)
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "c2", Name: "two", Network: "a", NetNS: NetNS{Path: "/y"},
		Hosts: HostsSpec{Path: filepath.Join(dir, "bad.hosts")}}); err == nil {
		t.Fatal("own hosts file unwritable but attach succeeded")
	}
	// its directory not there yet (the runtime renames it into place and
	// writes the first content itself): the attach succeeds
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "c2", Name: "two", Network: "a", NetNS: NetNS{Path: "/y"},
		Hosts: HostsSpec{Path: filepath.Join(dir, "gone", "two.hosts")}}); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "gone"), 0o755)
	// a neighbour whose hosts directory vanished does not break attaching
	os.RemoveAll(filepath.Join(dir, "gone"))
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "c3", Name: "three", Network: "a", NetNS: NetNS{Path: "/z"}}); err != nil {
		t.Fatalf("neighbour's missing hosts file broke attach: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "one.hosts")); !strings.Contains(string(b), "three") || !strings.Contains(string(b), "two") {
		t.Fatalf("hosts of one:\n%s", b)
	}
	// the second attachment of a container gets eth1
	if att, err := m.Attach(ctx, AttachConfig{ContainerID: "c1", Name: "one", Network: DefaultNetwork, NetNS: NetNS{Path: "/x"}}); err != nil || att.IfName != "eth1" {
		t.Fatalf("%v %v", att, err)
	}

	// an Attach killed half-way: recorded, veth made, not ready
	nr, _ := m.InspectNetwork(ctx, "a")
	half := &Endpoint{ContainerID: "c9", Name: "nine", Veth: VethName(m.root, "c9", "a"), IP: addr("172.19.0.9"), IfName: "eth0"}
	nr.Endpoints["c9"] = half
	m.st.save(nr)
	f.links[half.Veth] = linkAlias(m.root)
	if st, _ := m.Status(ctx); len(st) != 2 || strings.Join(st[0].Stale, ",") != "c9" {
		t.Fatalf("status: %+v", st)
	}
	if att, err := m.Attach(ctx, AttachConfig{ContainerID: "c9", Name: "nine", Network: "a", NetNS: NetNS{Path: "/n"}}); err != nil || att.IP.String() != "172.19.0.5" {
		t.Fatalf("re-attach over a half-made endpoint: %v %v", att, err)
	}
	if err := m.Detach(ctx, "c9", "a"); err != nil {
		t.Fatal(err)
	}

	// the container of c2 dies: its veth goes; Cleanup releases it
	delete(f.links, VethName(m.root, "c2", "a"))
	f.links["stkv00000000"] = linkAlias(m.root) // unrecorded leftover
	f.links["stkv11111111"] = "stack:otherroot" // another root's: untouched
	f.proxies[4242] = true                      // unrecorded proxy
	rep, err := m.Cleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Endpoints, ",") != "a/two" || strings.Join(rep.Links, ",") != "stkv00000000" || len(rep.Proxies) != 1 || rep.Proxies[0] != 4242 {
		t.Fatalf("cleanup: %+v", rep)
	}
	if _, ok := f.links["stkv11111111"]; !ok {
		t.Fatal("another root's link removed")
	}
	if err := m.RemoveNetwork(ctx, "a"); !errors.Is(err, ErrNetworkInUse) {
		t.Fatalf("remove in use: %v", err)
	}
	if err := m.DetachAll(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if len(f.proxies) != 0 {
		t.Fatalf("proxies after detach: %v", f.proxies)
	}
	// ReleaseAll forgets c3 but leaves its veth to its dying namespace
	veth3 := VethName(m.root, "c3", "a")
	if err := m.ReleaseAll(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	if n, _ := m.InspectNetwork(ctx, "a"); len(n.Endpoints) != 0 {
		t.Fatalf("endpoints after ReleaseAll: %v", n.Endpoints)
	}
	if _, ok := f.links[veth3]; !ok {
		t.Fatal("ReleaseAll deleted the veth")
	}
	if err := m.ReleaseAll(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	delete(f.links, veth3) // the namespace took it
	rep, err = m.Prune(ctx)
	if err != nil || strings.Join(rep.Networks, ",") != "a" {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if err := m.RemoveNetwork(ctx, DefaultNetwork); err != nil {
		t.Fatal(err)
	}
	if f.rules != nil || len(f.links) != 1 {
		t.Fatalf("left: rules %v, links %v", f.rules != nil, f.links)
	}
}

func TestDropBridgeThenRemove(t *testing.T) {
	m, f := fakeManager(t)
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, NetworkConfig{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.links[n.Bridge]; !ok {
		t.Fatalf("no bridge %s after create: %v", n.Bridge, f.links)
	}
	if err := m.DropBridge(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.links[n.Bridge]; ok {
		t.Fatal("bridge still there after DropBridge")
	}
	if _, err := m.InspectNetwork(ctx, "a"); err != nil {
		t.Fatalf("DropBridge removed the record: %v", err)
	}
	if err := m.RemoveNetwork(ctx, "a"); err != nil {
		t.Fatalf("RemoveNetwork after DropBridge: %v", err)
	}
	if _, err := m.InspectNetwork(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record left: %v", err)
	}
	if err := m.DropBridge(ctx, "gone"); err != nil {
		t.Fatalf("DropBridge of an unknown network: %v", err)
	}
}
