package executor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stack-dev/stack/netplan"
)

func TestApplyNetworkMode(t *testing.T) {
	exposed := map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000-8001/tcp": {}}
	cases := []struct {
		name    string
		opts    RunOptions
		want    *NetRecord
		network string
		err     string
	}{
		{name: "default", opts: RunOptions{},
			want: &NetRecord{Mode: NetModeBridge, Requested: []NetAttach{{Name: "bridge"}}}, network: "bridge"},
		{name: "default by name", opts: RunOptions{Network: "default"},
			want: &NetRecord{Mode: NetModeBridge, Requested: []NetAttach{{Name: "bridge"}}}, network: "bridge"},
		{name: "named with ip, mac, aliases and ports",
			opts: RunOptions{Network: "front", Net: NetOptions{IPv4: "172.26.0.9", MAC: "02:42:ac:1a:00:09", Aliases: []string{"web"},
				Publish: []string{"127.0.0.1::80", "8000-8001:8000-8001/udp"}}},
			want: &NetRecord{Mode: NetModeBridge, Requested: []NetAttach{{Name: "front", IPv4: "172.26.0.9", MAC: "02:42:ac:1a:00:09", Aliases: []string{"web"}}},
				PortMaps: []netplan.PortMap{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"},
					{HostPort: 8000, HostPortEnd: 8001, ContainerPort: 8000, ContainerPortEnd: 8001, Protocol: "udp"}}},
			network: "front"},
		{name: "publish all", opts: RunOptions{Net: NetOptions{PublishAll: true}},
			want: &NetRecord{Mode: NetModeBridge, Requested: []NetAttach{{Name: "bridge"}},
				PortMaps: []netplan.PortMap{{ContainerPort: 53, Protocol: "udp"}, {ContainerPort: 80, Protocol: "tcp"},
					{ContainerPort: 8000, ContainerPortEnd: 8001, Protocol: "tcp"}}},
			network: "bridge"},
		{name: "several networks", opts: RunOptions{Net: NetOptions{Networks: []NetAttach{{Name: "front", Aliases: []string{"web"}}, {Name: "back"}}}},
			want: &NetRecord{Mode: NetModeBridge, Requested: []NetAttach{{Name: "front", Aliases: []string{"web"}}, {Name: "back"}}}, network: "front"},
		{name: "none with dns", opts: RunOptions{Network: "none", Net: NetOptions{DNS: []string{"10.0.0.53"}, ExtraHosts: []string{"db:10.0.0.7"}}},
			want: &NetRecord{Mode: NetModeNone, DNS: []string{"10.0.0.53"}, ExtraHosts: []string{"db:10.0.0.7"}}, network: "none"},
		{name: "host ignores ports", opts: RunOptions{Network: "host", Net: NetOptions{Publish: []string{"80"}}},
			want: &NetRecord{Mode: NetModeHost}, network: "host"},
		{name: "container", opts: RunOptions{Network: "container:db"},
			want: &NetRecord{Mode: NetModeContainer, Container: "db"}, network: "container:db"},
		{name: "service", opts: RunOptions{Network: "service:db"},
			want: &NetRecord{Mode: NetModeContainer, Container: "db"}, network: "service:db"},

		{name: "container without name", opts: RunOptions{Network: "container:"}, err: "want container:NAME"},
		{name: "ports on none", opts: RunOptions{Network: "none", Net: NetOptions{Publish: []string{"80"}}}, err: "ports cannot be published"},
		{name: "dns in container mode", opts: RunOptions{Network: "container:x", Net: NetOptions{DNS: []string{"1.1.1.1"}}}, err: "conflicting options"},
		{name: "ip on host", opts: RunOptions{Network: "host", Net: NetOptions{IPv4: "10.0.0.1"}}, err: "need a bridge network"},
		{name: "ip on the default network", opts: RunOptions{Net: NetOptions{IPv4: "172.17.0.9"}}, err: "user-defined networks"},
		{name: "bad ip", opts: RunOptions{Network: "front", Net: NetOptions{IPv4: "::1"}}, err: `invalid IPv4 address "::1"`},
		{name: "bad mac", opts: RunOptions{Network: "front", Net: NetOptions{MAC: "zz"}}, err: `invalid MAC address "zz"`},
		{name: "bad port", opts: RunOptions{Net: NetOptions{Publish: []string{"8080:http"}}}, err: "invalid --publish"},
		{name: "bad extra host", opts: RunOptions{Net: NetOptions{ExtraHosts: []string{"db"}}}, err: `invalid --add-host "db"`},
		{name: "bad extra host ip", opts: RunOptions{Net: NetOptions{ExtraHosts: []string{"db:nope"}}}, err: `"nope" is not an IP address`},
		{name: "bad dns", opts: RunOptions{Net: NetOptions{DNS: []string{"dns.example.com"}}}, err: `--dns "dns.example.com"`},
		{name: "network twice", opts: RunOptions{Net: NetOptions{Networks: []NetAttach{{Name: "a"}, {Name: "a"}}}}, err: "given twice"},
		{name: "first network differs", opts: RunOptions{Network: "b", Net: NetOptions{Networks: []NetAttach{{Name: "a"}}}}, err: "the first network is a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Container{}
			err := applyNetworkMode(c, &tc.opts, exposed)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, c.Net); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
			if c.Network != tc.network {
				t.Errorf("network %q, want %q", c.Network, tc.network)
			}
		})
	}
}

func TestParseExtraHosts(t *testing.T) {
	gw := netip.MustParseAddr("172.17.0.1")
	got, err := parseExtraHosts([]string{"db:10.0.0.7", "api=10.0.0.8", "v6:::1", "v6b=[fe80::1]", "gw:host-gateway"}, gw, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []netplan.HostEntry{{Name: "db", IP: netip.MustParseAddr("10.0.0.7")}, {Name: "api", IP: netip.MustParseAddr("10.0.0.8")},
		{Name: "v6", IP: netip.MustParseAddr("::1")}, {Name: "v6b", IP: netip.MustParseAddr("fe80::1")}, {Name: "gw", IP: gw}}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := parseExtraHosts([]string{"gw:host-gateway"}, netip.Addr{}, false); err == nil || !strings.Contains(err.Error(), "needs a bridge network") {
		t.Errorf("host-gateway without a network: %v", err)
	}
}
