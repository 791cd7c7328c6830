package firewall_test

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/v6kit/v6kit/firewall"
)

// FuzzParseACL: ParseACL never panics, and what it accepts round-trips:
// ParseACL(Write(acl)) == acl.
func FuzzParseACL(f *testing.F) {
	for _, file := range []string{"testdata/origin-story.txtar", "testdata/split-db.txtar"} {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range ar.Files {
			if s.Name == "router.rtx" {
				f.Add(string(s.Data))
			}
		}
	}
	f.Add("ipv6 filter 4009 pass * 2001:db8::10 tcp * https\n")
	f.Add("ipv6 filter 1 pass-log * * icmp6 2\nipv6 lan2 secure filter in 1 6 11 dynamic 6 31\n")
	f.Add("tunnel select 6\nipv6 tunnel secure filter in 300\ntunnel select none\n")
	f.Add("ipv6 filter dynamic 100 * * www\n")
	f.Add("ipv6 filter 101000 pass * * icmp6 * *\nipv6 filter dynamic 101080 * * ftp syslog=off\n")
	f.Fuzz(func(t *testing.T, in string) {
		acl, err := firewall.ParseACL(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := acl.Write(&b); err != nil {
			t.Fatalf("ParseACL accepted %q but Write refuses it: %v", in, err)
		}
		back, err := firewall.ParseACL(&b)
		if err != nil {
			t.Fatalf("ParseACL refuses what Write wrote:\n%s\n%v", b.String(), err)
		}
		if !equalACL(acl, back) {
			t.Fatalf("round trip differs:\n%+v\n%+v", acl, back)
		}
	})
}

func equalACL(a, b firewall.ACL) bool { return reflect.DeepEqual(a, b) }

// FuzzConfig: a config decoded from prefixes, ports and flags never panics Validate,
// and a valid one renders both artifacts; internal ports never come out public.
func FuzzConfig(f *testing.F) {
	f.Add("fd6e:7465:7374:10::/64", uint16(5432), false, "2001:db8:a::/48", "2001:db8::10", 40000, 40099, true)
	f.Add("::/0", uint16(6379), false, "", "2001:db8::10", 1, 10, false)
	f.Add("", uint16(443), true, "any", "::1", 65535, 65535, true)
	f.Fuzz(func(t *testing.T, from string, port uint16, public bool, admin, host string, first, last int, dual bool) {
		c := firewall.Config{}
		if dual {
			c.Family = firewall.DualStack
		}
		s := firewall.Service{Name: "svc", Ports: []uint16{port}, Public: public}
		if p, err := netip.ParsePrefix(from); err == nil {
			s.From = append(s.From, p)
		}
		c.Services = []firewall.Service{s}
		if admin == "any" {
			c.SSH.Any = true
		} else if p, err := netip.ParsePrefix(admin); err == nil {
			c.SSH.From = []netip.Prefix{p}
		}
		if h, err := netip.ParseAddr(host); err == nil {
			c.Router = &firewall.RTX{Host: h, Numbers: firewall.Range{First: first, Last: last}}
		}
		if c.Validate().Err() != nil {
			return
		}
		nft, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if firewall.Internal(port) != "" {
			if public {
				t.Fatalf("internal port %d accepted as public:\n%s", port, nft)
			}
			checkInternalRules(t, string(nft), port, s.From)
		}
		if c.Router != nil {
			acl, err := c.RouterACL()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := acl.Write(&b); err != nil {
				t.Fatal(err)
			}
			if _, err := firewall.ParseACL(&b); err != nil {
				t.Fatalf("ParseACL refuses the rendered ACL: %v\n%s", err, b.String())
			}
		}
	})
}

// checkInternalRules: every rule the internal service "svc" got names a source, one
// of from, and none is a default route. It reads only svc's lines: SSH from ::/0 is
// the admin's choice and says nothing about svc.
func checkInternalRules(t *testing.T, nft string, port uint16, from []netip.Prefix) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(nft, "\n") {
		if !strings.HasSuffix(line, `comment "svc"`) {
			continue
		}
		n++
		f := strings.Fields(line)
		if len(f) < 3 || (f[0] != "ip6" && f[0] != "ip") || f[1] != "saddr" {
			t.Fatalf("internal port %d has a rule with no source:\n%s", port, nft)
		}
		p, err := netip.ParsePrefix(f[2])
		if err != nil || p.Bits() == 0 || !slices.Contains(from, p) {
			t.Fatalf("internal port %d opened to %s, not one of %v:\n%s", port, f[2], from, nft)
		}
	}
	if n == 0 && len(from) > 0 && !(len(from) == 1 && from[0].Addr().Is4()) {
		t.Fatalf("internal port %d from %v got no rule:\n%s", port, from, nft)
	}
}

// FuzzParseRange: ParseRange never panics and what it accepts prints back to itself.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"4000-4099", "7", "0-1", "65535-65535", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := firewall.ParseRange(s)
		if err != nil {
			return
		}
		back, err := firewall.ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("%q -> %v -> %v, %v", s, r, back, err)
		}
	})
}
