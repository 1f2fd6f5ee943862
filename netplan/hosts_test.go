package netplan

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHostsContent(t *testing.T) {
	got := HostsContent(HostsConfig{
		Hostname: "web", Domainname: "example.com",
		Addrs: []netip.Addr{addr("172.26.0.2")},
		Names: []string{"demo-web-1", "web"},
		Peers: []HostsPeer{{IP: addr("172.26.0.4"), Names: []string{"demo-db-1", "db", "db"}}, {IP: addr("172.26.0.3"), Names: []string{"demo-cache-1", "cache"}}},
		Extra: []HostEntry{{Name: "db.example.com", IP: addr("10.0.0.7")}},
	})
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" +
		"10.0.0.7\tdb.example.com\n" +
		"172.26.0.2\tweb.example.com web demo-web-1\n" +
		"172.26.0.3\tdemo-cache-1 cache\n" +
		"172.26.0.4\tdemo-db-1 db\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestHostsFor(t *testing.T) {
	front := &Network{Name: "front", Endpoints: map[string]*Endpoint{
		"a": {ContainerID: "a", Name: "p-web-1", Aliases: []string{"web"}, IfName: "eth0", IP: addr("172.26.0.2"),
			Hosts: HostsSpec{Hostname: "abc123", ExtraHosts: []HostEntry{{Name: "x", IP: addr("10.0.0.1")}}}},
		"b": {ContainerID: "b", Name: "p-db-1", Aliases: []string{"db"}, IfName: "eth0", IP: addr("172.26.0.3")},
	}}
	back := &Network{Name: "back", Endpoints: map[string]*Endpoint{
		"a": {ContainerID: "a", Name: "p-web-1", Aliases: []string{"web", "api"}, IfName: "eth1", IP: addr("172.27.0.2")},
		"c": {ContainerID: "c", Name: "p-cache-1", IfName: "eth0", IP: addr("172.27.0.3")},
	}}
	other := &Network{Name: "other", Endpoints: map[string]*Endpoint{
		"d": {ContainerID: "d", Name: "elsewhere", IP: addr("172.28.0.2")},
	}}
	got, ok := HostsFor("a", []*Network{front, back, other})
	if !ok {
		t.Fatal("not found")
	}
	want := HostsConfig{
		Hostname: "abc123",
		Addrs:    []netip.Addr{addr("172.26.0.2"), addr("172.27.0.2")},
		Names:    []string{"p-web-1", "web", "api"},
		Peers:    []HostsPeer{{IP: addr("172.27.0.3"), Names: []string{"p-cache-1"}}, {IP: addr("172.26.0.3"), Names: []string{"p-db-1", "db"}}},
		Extra:    []HostEntry{{Name: "x", IP: addr("10.0.0.1")}},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatal(d)
	}
	if _, ok := HostsFor("zzz", []*Network{front}); ok {
		t.Fatal("unknown container found")
	}
}

func TestResolvConfContent(t *testing.T) {
	host := []byte("# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch corp.example lan\noptions edns0 trust-ad\n")
	tests := []struct {
		name string
		cfg  ResolvConfig
		want string
	}{
		{"from host, loopback dropped", ResolvConfig{Host: host}, "nameserver 192.0.2.53\nsearch corp.example lan\noptions edns0 trust-ad\n"},
		{"given", ResolvConfig{Host: host, Nameservers: []string{"10.0.0.53"}, Search: []string{"example.com"}, Options: []string{"ndots:2"}},
			"nameserver 10.0.0.53\nsearch example.com\noptions ndots:2\n"},
		{"only loopback on host", ResolvConfig{Host: []byte("nameserver 127.0.0.53\n")}, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"no host file", ResolvConfig{}, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, ResolvConfContent(tc.cfg)); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestRewriteInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(p, []byte("a much longer old content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	if err := WriteResolvConf(p, ResolvConfig{Nameservers: []string{"10.0.0.53"}}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) {
		t.Fatal("file replaced, not rewritten in place")
	}
	b, _ := os.ReadFile(p)
	if string(b) != "nameserver 10.0.0.53\n" {
		t.Fatalf("%q", b)
	}
}
