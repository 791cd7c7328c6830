package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A World is a disposable IPv6-only network built from namespaces and veth pairs, the Go
// twin of the v6world testbed:
//
//	client (IPv6 only) --c6-- router --s6-- server (IPv6 only)
//	                            |  \--s4-- peer (IPv4 only, HTTP on :80)
//	                 tayga NAT64, unbound DNS64 (+ a plain resolver without DNS64)
//
// Nothing is attached to the root namespace, so no packet leaves the world. Addresses:
// ULA fd6e:7465:7374::/48, TEST-NET-2 198.51.100.0/24 and the NAT64 prefix. Namespace
// names start with a per-world prefix, so worlds can be built in parallel.
type World struct {
	// ID prefixes every namespace name: ID-router, ID-server, ID-peer, ID-client.
	ID string
	// Dir holds configs and logs.
	Dir string
	// Router, Server, Peer and Client are the namespace names.
	Router, Server, Peer, Client string
	// Zone is the DNS zone the world's resolvers serve ("v6w.test").
	Zone string
	// DNS64 is the router's DNS64 resolver; PlainDNS is one without DNS64.
	DNS64, PlainDNS netip.Addr
	// ServerAddr, ClientAddr and PeerAddr are the hosts' addresses.
	ServerAddr, ClientAddr, PeerAddr netip.Addr
	// NAT64Prefix is the prefix clients see in DNS64 answers.
	NAT64Prefix netip.Prefix
	// PeerName is the IPv4-only peer's name (A only), served by a Go HTTP server on :80.
	PeerName string

	t         testing.TB
	mu        sync.Mutex
	zoneRRs   []string
	unbound   []string        // unbound.conf paths
	dropQdisc map[string]bool // router devices with the drop qdisc
}

// WorldOptions tune a world.
type WorldOptions struct {
	// WellKnownPrefix makes clients see 64:ff9b::/96 (an nftables prefix swap on the
	// router in front of tayga, which refuses the WKP for TEST-NET). It needs the nft
	// command. Zero: the network-specific prefix fd6e:7465:7374:64::/96 end to end.
	WellKnownPrefix bool
}

const (
	worldULA  = "fd6e:7465:7374"
	worldNSP  = worldULA + ":64::/96"
	worldWKP  = "64:ff9b::/96"
	worldZone = "v6w.test"
)

var worldSeq atomic.Int64

// WorldTools checks that every program a world needs is installed (root, ip, tayga,
// unbound, unbound-control), calling [Unavailable] otherwise.
func WorldTools(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	Tool(t, "ip", "iproute2")
	Tool(t, "tayga", "tayga")
	Tool(t, "unbound", "unbound")
	Tool(t, "unbound-control", "unbound")
	Tool(t, "tc", "iproute2")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		Unavailable(t, "/dev/net/tun missing (tayga needs the tun driver)")
	}
}

// NewWorld builds a world and tears it down at cleanup. It takes about a second.
func NewWorld(t testing.TB, opts WorldOptions) *World {
	t.Helper()
	WorldTools(t)
	if opts.WellKnownPrefix {
		Tool(t, "nft", "nftables")
	}
	sweepDeadWorlds()
	id := fmt.Sprintf("v6k%dw%d", os.Getpid(), worldSeq.Add(1))
	w := &World{
		ID: id, Dir: TempDir(t), t: t, Zone: worldZone,
		Router: id + "-router", Server: id + "-server", Peer: id + "-peer", Client: id + "-client",
		DNS64:      netip.MustParseAddr(worldULA + ":1::1"),
		PlainDNS:   netip.MustParseAddr(worldULA + ":1::53"),
		ClientAddr: netip.MustParseAddr(worldULA + ":1::2"),
		ServerAddr: netip.MustParseAddr(worldULA + ":2::80"),
		PeerAddr:   netip.MustParseAddr("198.51.100.10"),
		PeerName:   "v4host." + worldZone,
	}
	w.NAT64Prefix = netip.MustParsePrefix(worldNSP)
	if opts.WellKnownPrefix {
		w.NAT64Prefix = netip.MustParsePrefix(worldWKP)
	}
	if err := w.build(opts); err != nil {
		t.Fatalf("world %s: %v", id, err)
	}
	return w
}

// sweepDeadWorlds removes namespaces left by test binaries that died without cleanup.
func sweepDeadWorlds() {
	ents, _ := os.ReadDir(NetnsPath)
	re := regexp.MustCompile(`^v6k(\d+)w\d+-`)
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			continue
		}
		NetnsDelete(e.Name())
	}
}

func (w *World) build(opts WorldOptions) error {
	t := w.t
	for _, n := range []string{w.Router, w.Server, w.Peer, w.Client} {
		NetnsAdd(t, n)
	}
	quiet := []string{"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0"}
	if err := NetnsSysctl(w.Router, append(quiet, "net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1")...); err != nil {
		return err
	}
	for _, n := range []string{w.Server, w.Client} {
		if err := NetnsSysctl(n, quiet...); err != nil {
			return err
		}
	}
	if err := NetnsSysctl(w.Peer, "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1"); err != nil {
		return err
	}
	if err := NetnsIP(w.Router,
		"link set lo up",
		"link add c6 type veth peer name up0 netns "+w.Client,
		"link add s6 type veth peer name up0 netns "+w.Server,
		"link add s4 type veth peer name up0 netns "+w.Peer,
		"link set c6 up", "link set s6 up", "link set s4 up",
		"addr add "+worldULA+":1::1/64 dev c6 nodad",
		"addr add "+worldULA+":1::53/128 dev c6 nodad",
		"addr add "+worldULA+":2::1/64 dev s6 nodad",
		"addr add 198.51.100.1/28 dev s4",
	); err != nil {
		return err
	}
	if err := NetnsIP(w.Client, "link set lo up", "link set up0 up",
		"addr add "+w.ClientAddr.String()+"/64 dev up0 nodad", "route add default via "+worldULA+":1::1"); err != nil {
		return err
	}
	if err := NetnsIP(w.Server, "link set lo up", "link set up0 up",
		"addr add "+w.ServerAddr.String()+"/64 dev up0 nodad", "route add default via "+worldULA+":2::1"); err != nil {
		return err
	}
	if err := NetnsIP(w.Peer, "link set lo up", "link set up0 up",
		"addr add "+w.PeerAddr.String()+"/28 dev up0", "route add default via 198.51.100.1"); err != nil {
		return err
	}
	for _, n := range []string{w.Client, w.Server} {
		w.SetResolvConf(n, "nameserver "+w.DNS64.String()+"\nsearch "+w.Zone+"\noptions timeout:1 attempts:2\n")
	}
	w.SetResolvConf(w.Router, "nameserver ::1\n")
	w.SetResolvConf(w.Peer, "nameserver 127.0.0.1\n")

	if err := w.startPeer(); err != nil {
		return err
	}
	if err := w.startNAT64(opts); err != nil {
		return err
	}
	return w.startDNS()
}

// SetResolvConf writes /etc/netns/NODE/resolv.conf, which `ip netns exec` (and so
// [World.Command]) bind-mounts over /etc/resolv.conf.
func (w *World) SetResolvConf(node, content string) {
	d := filepath.Join("/etc/netns", node)
	if err := os.MkdirAll(d, 0o755); err != nil {
		w.t.Fatalf("resolv.conf for %s: %v", node, err)
	}
	if err := os.WriteFile(filepath.Join(d, "resolv.conf"), []byte(content), 0o644); err != nil {
		w.t.Fatalf("resolv.conf for %s: %v", node, err)
	}
}

// Command runs prog inside node's namespace (`ip netns exec`), with its resolv.conf.
func (w *World) Command(ctx context.Context, node, prog string, args ...string) *exec.Cmd {
	return NetnsCommand(ctx, node, prog, args...)
}

// Do runs fn on a thread inside node's namespace (see [NetnsDo]).
func (w *World) Do(node string, fn func() error) error { return NetnsDo(node, fn) }

// Dialer returns a dialer whose sockets live in node's namespace.
func (w *World) Dialer(node string) *NetnsDialer { return &NetnsDialer{Name: node} }

// Listen opens a listener inside node's namespace.
func (w *World) Listen(node, network, address string) (net.Listener, error) {
	return NetnsListen(node, network, address)
}

// AddServerAddr adds another address to the server's link (for one site per address).
func (w *World) AddServerAddr(a netip.Addr) error {
	return NetnsIP(w.Server, "addr add "+a.String()+"/64 dev up0 nodad")
}

// Bottleneck puts a link of the given MTU mid-path between the client and the server
// address src (a tunnel, both ends keeping 1500): the router forwards packets from src
// to the client link, and from the client to src, over routes with a locked MTU. The
// server routes traffic from src through its own table, so the path MTU it learns for
// src's clients stays apart from other addresses' (Linux keeps PMTU exceptions per
// route). With dropPTB the router also drops the ICMPv6 Packet Too Big messages about
// src, in both directions: a PMTU blackhole. Policy rules and htb+u32 filters do it, so
// other addresses are unaffected and nftables is not needed.
func (w *World) Bottleneck(src netip.Addr, mtu int, dropPTB bool) error {
	if mtu < 1280 {
		return fmt.Errorf("IPv6 path MTU cannot be below 1280")
	}
	if !src.Is6() || !netip.MustParsePrefix(worldULA+":2::/64").Contains(src) {
		return fmt.Errorf("bottleneck source %s is not on the server link", src)
	}
	table := strconv.Itoa(100 + int(src.As16()[15]))
	m := strconv.Itoa(mtu)
	run := func(ns string, args ...string) error {
		if out, err := exec.Command("ip", append([]string{"-6", "-n", ns}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip -6 -n %s %s: %v\n%s", ns, strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, c := range []struct {
		ns   string
		args []string
	}{
		{w.Router, []string{"route", "replace", worldULA + ":1::/64", "dev", "c6", "table", table, "mtu", "lock", m}},
		{w.Router, []string{"rule", "add", "from", src.String(), "table", table, "priority", table}},
		{w.Router, []string{"route", "replace", src.String() + "/128", "dev", "s6", "mtu", "lock", m}},
		{w.Server, []string{"route", "replace", worldULA + ":2::/64", "dev", "up0", "table", table}},
		{w.Server, []string{"route", "replace", "default", "via", worldULA + ":2::1", "dev", "up0", "table", table}},
		{w.Server, []string{"rule", "add", "from", src.String(), "table", table, "priority", table}},
	} {
		if err := run(c.ns, c.args...); err != nil {
			return err
		}
	}
	if !dropPTB {
		return nil
	}
	// Packet Too Big (ICMPv6 type 2) to src on s6; to the client on c6 when the packet
	// it quotes was addressed to src (inner destination at byte 72).
	b := src.As16()
	var inner []string
	for i := 0; i < 16; i += 4 {
		inner = append(inner, "match", "u32", fmt.Sprintf("0x%02x%02x%02x%02x", b[i], b[i+1], b[i+2], b[i+3]), "0xffffffff", "at", strconv.Itoa(72+i))
	}
	if err := w.dropFilter("s6", "match", "ip6", "dst", src.String()+"/128"); err != nil {
		return err
	}
	return w.dropFilter("c6", inner...)
}

// dropFilter drops ICMPv6 Packet Too Big leaving the router on dev when match matches.
// tc: an htb qdisc whose default class passes everything and a second class whose fifo
// holds nothing; a u32 filter sends the matching packets there. (This kernel has neither
// the prio qdisc nor the gact "drop" action.)
func (w *World) dropFilter(dev string, match ...string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	tc := func(args ...string) error {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", w.Router, "tc"}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("tc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if w.dropQdisc == nil {
		w.dropQdisc = map[string]bool{}
	}
	if !w.dropQdisc[dev] {
		for _, args := range [][]string{
			{"qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10"},
			{"class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"},
			{"class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit"},
			{"qdisc", "add", "dev", dev, "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"},
		} {
			if err := tc(args...); err != nil {
				return err
			}
		}
		w.dropQdisc[dev] = true
	}
	args := []string{"filter", "add", "dev", dev, "parent", "1:", "protocol", "ipv6", "prio", "1", "u32"}
	args = append(args, match...)
	args = append(args, "match", "ip6", "protocol", "58", "0xff", "match", "u8", "2", "0xff", "at", "40", "flowid", "1:20")
	return tc(args...)
}

// FlushPMTU forgets learned path MTUs on the client and the server.
func (w *World) FlushPMTU() {
	for _, n := range []string{w.Client, w.Server} {
		_ = exec.Command("ip", "-6", "-n", n, "route", "flush", "cache").Run()
	}
}

// startPeer serves HTTP on the IPv4-only peer: / and /whoami (the address it sees).
func (w *World) startPeer() error {
	l, err := NetnsListen(w.Peer, "tcp4", "0.0.0.0:80")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if r.URL.Path == "/whoami" {
			fmt.Fprintln(rw, host)
			return
		}
		fmt.Fprintf(rw, "v4host (IPv4 only) hello %s\n", host)
	})}
	go func() { _ = srv.Serve(l) }()
	w.t.Cleanup(func() { _ = srv.Close() })
	return nil
}

func (w *World) startNAT64(opts WorldOptions) error {
	d := filepath.Join(w.Dir, "tayga")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(w.Dir, "tayga.conf")
	body := "tun-device nat64\nipv4-addr 198.51.100.129\ndynamic-pool 198.51.100.128/25\ndata-dir " + d + "\nprefix " + worldNSP + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return err
	}
	if out, err := NetnsCommand(context.Background(), w.Router, "tayga", "--config", conf, "--mktun").CombinedOutput(); err != nil {
		return fmt.Errorf("tayga --mktun: %v\n%s", err, out)
	}
	if err := NetnsIP(w.Router, "link set nat64 up", "addr add 198.51.100.1/32 dev nat64",
		"addr add "+worldULA+":1::1/128 dev nat64 nodad",
		"route add 198.51.100.128/25 dev nat64", "route add "+worldNSP+" dev nat64"); err != nil {
		return err
	}
	if opts.WellKnownPrefix {
		rules := "table ip6 v6k_wkp {\n chain pre { type nat hook prerouting priority dstnat; policy accept;\n" +
			"  ip6 daddr " + worldWKP + " dnat ip6 prefix to ip6 daddr map { " + worldWKP + " : " + worldNSP + " }\n }\n}\n"
		cmd := NetnsCommand(context.Background(), w.Router, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft: %v\n%s", err, out)
		}
	}
	Start(w.t, NetnsCommand(context.Background(), w.Router, "tayga", "--config", conf, "--nodetach"), 0)
	return nil
}

func (w *World) zoneText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL 1\n@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 1\n@ NS ns.%s.\nns AAAA %s\n",
		w.Zone, w.Zone, w.Zone, w.Zone, w.DNS64)
	fmt.Fprintf(&b, "v6host AAAA %s\nv4host A %s\n", w.ServerAddr, w.PeerAddr)
	for _, rr := range w.zoneRRs {
		b.WriteString(rr)
		b.WriteByte('\n')
	}
	return b.String()
}

func (w *World) startDNS() error {
	zone := filepath.Join(w.Dir, w.Zone+".zone")
	if err := os.WriteFile(zone, []byte(w.zoneText()), 0o644); err != nil {
		return err
	}
	arpa := filepath.Join(w.Dir, "ipv4only.arpa.zone")
	if err := os.WriteFile(arpa, []byte("$ORIGIN ipv4only.arpa.\n$TTL 1\n@ SOA ns."+w.Zone+". hostmaster."+w.Zone+". 1 3600 600 86400 1\n@ NS ns."+w.Zone+".\n@ A 192.0.0.170\n@ A 192.0.0.171\n"), 0o644); err != nil {
		return err
	}
	mk := func(name string, iface []netip.Addr, dns64 bool) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n  verbosity: 1\n  num-threads: 1\n")
		for _, a := range iface {
			fmt.Fprintf(&b, "  interface: %s\n", a)
		}
		fmt.Fprintf(&b, "  port: 53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: %q\n  pidfile: %q\n  logfile: \"\"\n  use-syslog: no\n",
			w.Dir, filepath.Join(w.Dir, name+".pid"))
		fmt.Fprintf(&b, "  access-control: ::1/128 allow\n  access-control: %s::/48 allow\n  local-zone: \"test.\" nodefault\n  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n  serve-expired: no\n", worldULA)
		if dns64 {
			fmt.Fprintf(&b, "  module-config: \"dns64 iterator\"\n  dns64-prefix: %s\n", w.NAT64Prefix)
		} else {
			fmt.Fprintf(&b, "  module-config: \"iterator\"\n")
		}
		fmt.Fprintf(&b, "remote-control:\n  control-enable: yes\n  control-use-cert: no\n  control-interface: %s\n", filepath.Join(w.Dir, name+".ctl"))
		for _, z := range []struct{ name, file string }{{w.Zone, zone}, {"ipv4only.arpa", arpa}} {
			fmt.Fprintf(&b, "auth-zone:\n  name: %q\n  zonefile: %q\n  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n", z.name+".", z.file)
		}
		p := filepath.Join(w.Dir, name+".conf")
		return p, os.WriteFile(p, []byte(b.String()), 0o644)
	}
	c64, err := mk("unbound64", []netip.Addr{w.DNS64, netip.IPv6Loopback()}, true)
	if err != nil {
		return err
	}
	cPlain, err := mk("unboundplain", []netip.Addr{w.PlainDNS}, false)
	if err != nil {
		return err
	}
	w.unbound = []string{c64, cPlain}
	for _, c := range w.unbound {
		Start(w.t, NetnsCommand(context.Background(), w.Router, "unbound", "-d", "-c", c), 0)
	}
	// ready when both answer from the client side
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, srv := range []netip.Addr{w.DNS64, w.PlainDNS} {
		if err := w.waitDNS(ctx, srv); err != nil {
			return err
		}
	}
	return nil
}

func (w *World) waitDNS(ctx context.Context, srv netip.Addr) error {
	d := w.Dialer(w.Client)
	m := new(dns.Msg)
	m.SetQuestion("v6host."+w.Zone+".", dns.TypeAAAA)
	var last error
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(srv, 53).String())
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
			cl := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
			var resp *dns.Msg
			resp, _, err = cl.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: c})
			c.Close()
			if err == nil && len(resp.Answer) > 0 {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("rcode %s, %d answers", dns.RcodeToString[resp.Rcode], len(resp.Answer))
			}
		}
		last = err
		time.Sleep(30 * time.Millisecond)
	}
	return fmt.Errorf("resolver %s not answering: %v", srv, last)
}

// AddRecords adds zone-file lines (relative to the zone, e.g. "social AAAA fd6e:…::80")
// to the world's zone and reloads both resolvers.
func (w *World) AddRecords(rrs ...string) error {
	for _, rr := range rrs {
		if strings.ContainsAny(rr, "\n\r") {
			return fmt.Errorf("record %q holds a newline", rr)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.zoneRRs = append(w.zoneRRs, rrs...)
	txt := w.zoneText()
	// bump the serial so unbound takes the new zone
	txt = strings.Replace(txt, " 1 3600 600", " "+strconv.Itoa(len(w.zoneRRs)+1)+" 3600 600", 1)
	zone := filepath.Join(w.Dir, w.Zone+".zone")
	if err := os.WriteFile(zone+".tmp", []byte(txt), 0o644); err != nil {
		return err
	}
	if err := os.Rename(zone+".tmp", zone); err != nil {
		return err
	}
	for _, c := range w.unbound {
		for _, args := range [][]string{{"auth_zone_reload", w.Zone}, {"flush_zone", w.Zone}, {"flush_bogus"}, {"flush_negative"}} {
			out, err := NetnsCommand(context.Background(), w.Router, "unbound-control", append([]string{"-c", c}, args...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("unbound-control %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	return nil
}
