package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// FirewallWorld is a small routed network for filter tests, without DNS or NAT64:
//
//	client --fwc-- router --fwh-- host
//	                 \----fwa-- app
//
// Each link has an IPv6 ULA /64 and, for dual-stack tests, a TEST-NET /28. The router
// forwards both families and reaches the client over a route locked to MTU 1280 (both
// endpoints keep 1500), so a host sending full-size packets to the client depends on
// the router's ICMPv6 Packet Too Big (and ICMPv4 fragmentation needed). Nothing is
// attached to the root namespace. Build it with [NewFirewallWorld].
type FirewallWorld struct {
	// Client, Router, Host and App are the namespace names.
	Client, Router, Host, App string
	// ClientAddr, HostAddr and AppAddr are the IPv6 addresses; the 4 variants IPv4.
	ClientAddr, HostAddr, AppAddr    netip.Addr
	ClientAddr4, HostAddr4, AppAddr4 netip.Addr
	// ClientNet and AppNet are the client's and app's links (IPv6, then IPv4).
	ClientNet, AppNet, ClientNet4, AppNet4 netip.Prefix
	// MTU is the path MTU between host and client.
	MTU int
}

var fwWorldSeq atomic.Int64

// NewFirewallWorld builds the network and removes it at cleanup. It needs root and ip.
func NewFirewallWorld(t testing.TB) *FirewallWorld {
	t.Helper()
	RequireRoot(t)
	Tool(t, "ip", "iproute2")
	sweepDeadWorlds()
	// named like World's namespaces, so sweepDeadWorlds removes the leftovers of a dead run
	id := fmt.Sprintf("v6k%dw%d", os.Getpid(), 9000+fwWorldSeq.Add(1))
	const ula = "fd6e:7465:7374:f"
	w := &FirewallWorld{
		Client: id + "-fwclient", Router: id + "-fwrouter", Host: id + "-fwhost", App: id + "-fwapp",
		ClientAddr: netip.MustParseAddr(ula + "1::2"), HostAddr: netip.MustParseAddr(ula + "2::80"), AppAddr: netip.MustParseAddr(ula + "3::31"),
		ClientAddr4: netip.MustParseAddr("198.51.100.2"), HostAddr4: netip.MustParseAddr("203.0.113.10"), AppAddr4: netip.MustParseAddr("198.51.100.18"),
		ClientNet: netip.MustParsePrefix(ula + "1::/64"), AppNet: netip.MustParsePrefix(ula + "3::/64"),
		ClientNet4: netip.MustParsePrefix("198.51.100.0/28"), AppNet4: netip.MustParsePrefix("198.51.100.16/28"),
		MTU: 1280,
	}
	quiet := []string{"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0"}
	for _, n := range []string{w.Router, w.Client, w.Host, w.App} {
		NetnsAdd(t, n)
		extra := []string(nil)
		if n == w.Router {
			extra = []string{"net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1"}
		}
		if err := NetnsSysctl(n, append(quiet, extra...)...); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(NetnsIP(w.Router, "link set lo up",
		"link add fwc type veth peer name up0 netns "+w.Client,
		"link add fwh type veth peer name up0 netns "+w.Host,
		"link add fwa type veth peer name up0 netns "+w.App,
		"link set fwc up", "link set fwh up", "link set fwa up",
		"addr add "+ula+"1::1/64 dev fwc nodad", "addr add 198.51.100.1/28 dev fwc",
		"addr add "+ula+"2::1/64 dev fwh nodad", "addr add 203.0.113.1/28 dev fwh",
		"addr add "+ula+"3::1/64 dev fwa nodad", "addr add 198.51.100.17/28 dev fwa",
		// the 1280 hop: metric 256 replaces the connected route instead of adding one
		"route replace "+ula+"1::/64 dev fwc proto kernel metric 256 mtu lock 1280",
		"route replace 198.51.100.0/28 dev fwc proto kernel scope link src 198.51.100.1 mtu lock 1280",
	))
	for _, h := range []struct {
		ns       string
		a6, a4   netip.Addr
		gw6, gw4 string
	}{
		{w.Client, w.ClientAddr, w.ClientAddr4, ula + "1::1", "198.51.100.1"},
		{w.Host, w.HostAddr, w.HostAddr4, ula + "2::1", "203.0.113.1"},
		{w.App, w.AppAddr, w.AppAddr4, ula + "3::1", "198.51.100.17"},
	} {
		must(NetnsIP(h.ns, "link set lo up", "link set up0 up",
			"addr add "+h.a6.String()+"/64 dev up0 nodad", "addr add "+h.a4.String()+"/28 dev up0",
			"route add default via "+h.gw6, "route add default via "+h.gw4))
	}
	return w
}

// Run runs prog inside the namespace and returns its combined output.
func (w *FirewallWorld) Run(ctx context.Context, ns, prog string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := NetnsCommand(ctx, ns, prog, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s in %s: %v\n%s", prog, strings.Join(args, " "), ns, err, out.String())
	}
	return out.String(), nil
}

// FlushPMTU forgets the path MTUs the host and client learned (both families).
func (w *FirewallWorld) FlushPMTU() {
	for _, n := range []string{w.Client, w.Host} {
		_ = exec.Command("ip", "-6", "-n", n, "route", "flush", "cache").Run()
		_ = exec.Command("ip", "-4", "-n", n, "route", "flush", "cache").Run()
	}
}
