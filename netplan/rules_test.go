package netplan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRules(t *testing.T) {
	root := "/var/lib/stack"
	front := &Network{Name: "front", Bridge: "stk-aaaaaaaa", Subnet: Subnet{Prefix: pfx("172.26.0.0/16"), Gateway: addr("172.26.0.1")},
		Endpoints: map[string]*Endpoint{
			"c1": {ContainerID: "c1", IP: addr("172.26.0.2"), Ports: []PortBinding{
				{HostIP: addr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
				{HostIP: addr("0.0.0.0"), HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
				{HostIP: addr("::1"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
				{HostIP: addr("0.0.0.0"), HostPort: 8081, ContainerPort: 80, Protocol: "tcp"},
			}},
			"c2": {ContainerID: "c2", IP: addr("172.26.0.3")},
		}}
	back := &Network{Name: "back", Bridge: "stk-bbbbbbbb", Internal: true, Subnet: Subnet{Prefix: pfx("172.27.0.0/16")},
		Endpoints: map[string]*Endpoint{}}
	got := Rules(root, []*Network{front, back}).String()
	want := `table ip ` + TableName(root) + ` {
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		fib daddr type local jump ports
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local jump ports
	}
	chain ports {
		ip daddr 127.0.0.1 meta l4proto tcp th dport 8080 dnat to 172.26.0.2:80
		meta l4proto udp th dport 5353 dnat to 172.26.0.2:53
		meta l4proto tcp th dport 8081 dnat to 172.26.0.2:80
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "stk-bbbbbbbb" ip saddr 127.0.0.0/8 masquerade
		oifname != "stk-aaaaaaaa" ip saddr 172.26.0.0/16 masquerade
		oifname "stk-aaaaaaaa" ip saddr 127.0.0.0/8 masquerade
		ip saddr 172.26.0.2 ip daddr 172.26.0.2 meta l4proto tcp th dport 80 masquerade
		ip saddr 172.26.0.2 ip daddr 172.26.0.2 meta l4proto udp th dport 53 masquerade
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "stk-bbbbbbbb" oifname != "stk-bbbbbbbb" drop
		iifname != "stk-bbbbbbbb" oifname "stk-bbbbbbbb" drop
	}
}
`
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("-want +got\n%s", d)
	}
}

func TestRulesEmpty(t *testing.T) {
	rs := Rules("/r", nil)
	if len(rs.Chains) != 5 || len(rs.Chains[2].Rules) != 0 || len(rs.Chains[3].Rules) != 0 {
		t.Fatalf("%s", rs)
	}
}
