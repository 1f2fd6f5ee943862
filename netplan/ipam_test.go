package netplan

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestChooseSubnet(t *testing.T) {
	tests := []struct {
		name    string
		network string
		claims  []Claim
		want    string
		wantErr error
	}{
		{name: "default bridge gets 172.17", network: "bridge", want: "172.17.0.0/16"},
		{name: "others start at 172.18", network: "front", want: "172.18.0.0/16"},
		{name: "skips other networks", network: "front", claims: []Claim{{pfx("172.18.0.0/16"), "network a"}, {pfx("172.19.0.0/16"), "network b"}}, want: "172.20.0.0/16"},
		{name: "skips host routes", network: "front", claims: []Claim{{pfx("172.16.0.0/12"), "host route"}}, want: "192.168.0.0/20"},
		{name: "bridge taken falls to pools", network: "bridge", claims: []Claim{{pfx("172.17.5.0/24"), "host route"}}, want: "172.18.0.0/16"},
		{name: "small route inside a /20", network: "x", claims: []Claim{{pfx("172.16.0.0/12"), "r"}, {pfx("192.168.1.0/24"), "r"}}, want: "192.168.16.0/20"},
		{name: "nothing left", network: "x", claims: []Claim{{pfx("172.16.0.0/12"), "r"}, {pfx("192.168.0.0/16"), "r"}}, wantErr: ErrNoSubnet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChooseSubnet(tc.network, DefaultPools, tc.claims)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestCheckSubnetNamesBoth(t *testing.T) {
	err := CheckSubnet(pfx("10.99.5.0/24"), []Claim{{pfx("10.99.0.0/16"), "host route 10.99.0.0/16 dev eth1"}})
	if !errors.Is(err, ErrOverlap) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{"10.99.5.0/24", "10.99.0.0/16", "dev eth1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if err := CheckSubnet(pfx("10.98.0.0/16"), []Claim{{pfx("10.99.0.0/16"), "x"}}); err != nil {
		t.Fatal(err)
	}
}

func TestNewSubnet(t *testing.T) {
	s, err := NewSubnet(pfx("172.26.0.0/16"), netip.Addr{}, netip.Prefix{})
	if err != nil || s.Gateway != addr("172.26.0.1") {
		t.Fatalf("got %+v, %v", s, err)
	}
	bad := []struct{ subnet, gw, rng string }{
		{"172.26.0.1/16", "", ""},           // host bits
		{"172.26.0.0/31", "", ""},           // too small
		{"172.26.0.0/16", "172.27.0.1", ""}, // gateway outside
		{"172.26.0.0/16", "172.26.0.0", ""}, // network address
		{"172.26.0.0/16", "172.26.255.255", ""},
		{"172.26.0.0/16", "", "172.27.0.0/24"}, // range outside
		{"172.26.0.0/16", "", "172.0.0.0/8"},   // range larger
		{"fd00::/64", "", ""},
	}
	for _, b := range bad {
		var gw netip.Addr
		var rng netip.Prefix
		if b.gw != "" {
			gw = addr(b.gw)
		}
		if b.rng != "" {
			rng = pfx(b.rng)
		}
		if _, err := NewSubnet(pfx(b.subnet), gw, rng); err == nil {
			t.Errorf("NewSubnet(%v) accepted", b)
		}
	}
}

func TestAllocate(t *testing.T) {
	s, _ := NewSubnet(pfx("172.26.0.0/29"), addr("172.26.0.1"), netip.Prefix{})
	var used []netip.Addr
	var got []string
	for {
		a, err := s.Allocate(used)
		if err != nil {
			if !errors.Is(err, ErrSubnetFull) {
				t.Fatal(err)
			}
			break
		}
		used = append(used, a)
		got = append(got, a.String())
	}
	want := []string{"172.26.0.2", "172.26.0.3", "172.26.0.4", "172.26.0.5", "172.26.0.6"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	// released addresses are reused, lowest first
	a, _ := s.Allocate([]netip.Addr{addr("172.26.0.2"), addr("172.26.0.4")})
	if a != addr("172.26.0.3") {
		t.Fatalf("got %s", a)
	}
	// gateway elsewhere: .1 is free
	s2, _ := NewSubnet(pfx("172.26.0.0/24"), addr("172.26.0.254"), pfx("172.26.0.0/30"))
	if a, _ := s2.Allocate(nil); a != addr("172.26.0.1") {
		t.Fatalf("got %s", a)
	}
	if _, err := s2.Allocate([]netip.Addr{addr("172.26.0.1"), addr("172.26.0.2"), addr("172.26.0.3")}); !errors.Is(err, ErrSubnetFull) {
		t.Fatalf("range full: %v", err)
	}
	// ip range in the middle
	s3, _ := NewSubnet(pfx("172.26.0.0/16"), netip.Addr{}, pfx("172.26.5.0/24"))
	if a, _ := s3.Allocate(nil); a != addr("172.26.5.0") {
		t.Fatalf("got %s", a)
	}
}

func TestReserve(t *testing.T) {
	s, _ := NewSubnet(pfx("172.26.0.0/16"), netip.Addr{}, pfx("172.26.5.0/24"))
	if err := s.Reserve(addr("172.26.0.10"), nil); err != nil {
		t.Fatal(err) // static addresses may lie outside the range
	}
	if err := s.Reserve(addr("172.26.0.10"), []netip.Addr{addr("172.26.0.10")}); !errors.Is(err, ErrAddressInUse) {
		t.Fatal(err)
	}
	if err := s.Reserve(addr("172.26.0.1"), nil); !errors.Is(err, ErrAddressInUse) {
		t.Fatal(err)
	}
	if err := s.Reserve(addr("10.0.0.1"), nil); err == nil {
		t.Fatal("outside address accepted")
	}
}

func TestMACFor(t *testing.T) {
	if got := MACFor(addr("172.17.0.2")); got != "02:42:ac:11:00:02" {
		t.Fatal(got)
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{BridgeName("/r", "front"), VethName("/r", "abc", "front"), TableName("/r")} {
		if len(n) > maxIfName && !strings.HasPrefix(n, TablePrefix) {
			t.Errorf("%s longer than 15", n)
		}
	}
	if BridgeName("/r", "a") == BridgeName("/s", "a") {
		t.Fatal("roots share a bridge name")
	}
	if !isStackLink(BridgeName("/r", "a")) || !isStackLink(VethName("/r", "a", "b")) || isStackLink("eth0") {
		t.Fatal("isStackLink")
	}
}
