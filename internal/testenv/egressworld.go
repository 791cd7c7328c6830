package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// An EgressWorld is the three-host picture of an IPv6-only Mastodon host's outbound
// path, built from namespaces and veth pairs:
//
//	host (IPv6 only) --h6-- gateway (dual-stack) --wan-- peer (IPv4 only: HTTPS webfinger
//	                          |                           and actor, authoritative DNS)
//	                          +--lan-- lanhost (private IPv4, the gateway's own LAN)
//
// Unlike [World], the gateway runs nothing: the test starts the NAT64, DNS64 or proxy
// it wants to prove there, from the configuration it rendered. The peer serves
// https://PeerName/.well-known/webfinger and /users/alice (an actor) with a
// certificate from a test CA ([EgressWorld.RootCAs]); the LAN host answers every HTTP
// and HTTPS request with a secret and counts them ([EgressWorld.LANHits]), so a test
// can prove that nothing reached it. The peer's DNS server is authoritative for Zone
// (A records only) and ipv4only.arpa. Addresses: ULA fd65:6772:6573::/48, TEST-NET-3
// 203.0.113.0/24 as the IPv4 internet, 192.168.77.0/24 as the LAN.
type EgressWorld struct {
	// ID prefixes the namespace names.
	ID string
	// Dir holds configs and logs.
	Dir string
	// Host, Gateway, Peer and LANHost are the namespace names.
	Host, Gateway, Peer, LANHost string
	// HostPrefix is the Mastodon host's link; HostAddr its address, GatewayAddr the
	// gateway's address there.
	HostPrefix            netip.Prefix
	HostAddr, GatewayAddr netip.Addr
	// WANDev and LANDev are the gateway's IPv4 interfaces; GatewayWAN and GatewayLAN their
	// addresses; LANPrefix is the gateway's own LAN.
	WANDev, LANDev         string
	GatewayWAN, GatewayLAN netip.Addr
	LANPrefix              netip.Prefix
	// PeerAddr and LANAddr are the IPv4-only peer and the private LAN host.
	PeerAddr, LANAddr netip.Addr
	// DNS is the peer side's authoritative server (UDP and TCP port 53).
	DNS netip.AddrPort
	// Zone is the DNS zone; PeerName and LANName are the two hosts' names in it (A only).
	Zone, PeerName, LANName string
	// Account is the peer's account, "alice@PeerName".
	Account string
	// RootCAs holds the test CA that signed the peer's and the LAN host's certificates.
	RootCAs *x509.CertPool

	t       testing.TB
	lanHits atomic.Int64
}

var egressSeq atomic.Int64

const egressULA = "fd65:6772:6573"

// NewEgressWorld builds the world and removes it at cleanup; it needs root and ip.
func NewEgressWorld(t testing.TB) *EgressWorld {
	t.Helper()
	RequireRoot(t)
	Tool(t, "ip", "iproute2")
	sweepDeadWorlds()
	id := fmt.Sprintf("v6k%dw%d", os.Getpid(), egressSeq.Add(1)) // names below differ from World's
	w := &EgressWorld{
		ID: id, Dir: TempDir(t), t: t,
		Host: id + "-mhost", Gateway: id + "-egw", Peer: id + "-v4peer", LANHost: id + "-lanhost",
		HostPrefix:  netip.MustParsePrefix(egressULA + ":1::/64"),
		HostAddr:    netip.MustParseAddr(egressULA + ":1::10"),
		GatewayAddr: netip.MustParseAddr(egressULA + ":1::1"),
		WANDev:      "wan", LANDev: "lan",
		GatewayWAN: netip.MustParseAddr("203.0.113.1"),
		GatewayLAN: netip.MustParseAddr("192.168.77.1"),
		LANPrefix:  netip.MustParsePrefix("192.168.77.0/24"),
		PeerAddr:   netip.MustParseAddr("203.0.113.10"),
		LANAddr:    netip.MustParseAddr("192.168.77.10"),
		DNS:        netip.MustParseAddrPort("203.0.113.53:53"),
		Zone:       "fedi.example",
	}
	w.PeerName, w.LANName = "v4only."+w.Zone, "intranet."+w.Zone
	w.Account = "alice@" + w.PeerName
	if err := w.build(); err != nil {
		t.Fatalf("egress world %s: %v", id, err)
	}
	return w
}

func (w *EgressWorld) build() error {
	t := w.t
	for _, n := range []string{w.Host, w.Gateway, w.Peer, w.LANHost} {
		NetnsAdd(t, n)
	}
	quiet := []string{"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0"}
	if err := NetnsSysctl(w.Gateway, quiet...); err != nil {
		return err
	}
	if err := NetnsSysctl(w.Host, quiet...); err != nil {
		return err
	}
	for _, n := range []string{w.Peer, w.LANHost} {
		if err := NetnsSysctl(n, "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1"); err != nil {
			return err
		}
	}
	if err := NetnsIP(w.Gateway,
		"link set lo up",
		"link add h6 type veth peer name up0 netns "+w.Host,
		"link add "+w.WANDev+" type veth peer name up0 netns "+w.Peer,
		"link add "+w.LANDev+" type veth peer name up0 netns "+w.LANHost,
		"link set h6 up", "link set "+w.WANDev+" up", "link set "+w.LANDev+" up",
		"addr add "+w.GatewayAddr.String()+"/64 dev h6 nodad",
		"addr add "+w.GatewayWAN.String()+"/24 dev "+w.WANDev,
		"addr add "+w.GatewayLAN.String()+"/24 dev "+w.LANDev,
	); err != nil {
		return err
	}
	if err := NetnsIP(w.Host, "link set lo up", "link set up0 up",
		"addr add "+w.HostAddr.String()+"/64 dev up0 nodad", "route add default via "+w.GatewayAddr.String()); err != nil {
		return err
	}
	if err := NetnsIP(w.Peer, "link set lo up", "link set up0 up",
		"addr add "+w.PeerAddr.String()+"/24 dev up0", "addr add "+w.DNS.Addr().String()+"/24 dev up0",
		"route add default via "+w.GatewayWAN.String()); err != nil {
		return err
	}
	if err := NetnsIP(w.LANHost, "link set lo up", "link set up0 up",
		"addr add "+w.LANAddr.String()+"/24 dev up0", "route add default via "+w.GatewayLAN.String()); err != nil {
		return err
	}
	w.SetResolvConf(w.Host, "# no resolver until the test renders one\n")
	w.SetResolvConf(w.Gateway, "nameserver "+w.DNS.Addr().String()+"\n")
	cert, err := w.certs()
	if err != nil {
		return err
	}
	if err := w.startDNS(); err != nil {
		return err
	}
	if err := w.serve(w.Peer, w.PeerAddr, cert, w.peerHandler()); err != nil {
		return err
	}
	return w.serve(w.LANHost, w.LANAddr, cert, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.lanHits.Add(1)
		fmt.Fprintln(rw, "intranet secret: this must never reach a remote actor")
	}))
}

// SetResolvConf writes the resolv.conf that [NetnsCommand] bind-mounts in node.
func (w *EgressWorld) SetResolvConf(node, content string) {
	d := filepath.Join("/etc/netns", node)
	if err := os.MkdirAll(d, 0o755); err != nil {
		w.t.Fatalf("resolv.conf for %s: %v", node, err)
	}
	if err := os.WriteFile(filepath.Join(d, "resolv.conf"), []byte(content), 0o644); err != nil {
		w.t.Fatalf("resolv.conf for %s: %v", node, err)
	}
	w.t.Cleanup(func() { _ = os.RemoveAll(d) })
}

// ResolvConfPath is the file [EgressWorld.SetResolvConf] writes for node.
func (w *EgressWorld) ResolvConfPath(node string) string {
	return filepath.Join("/etc/netns", node, "resolv.conf")
}

// Dialer returns a dialer whose sockets live in node's namespace.
func (w *EgressWorld) Dialer(node string) *NetnsDialer { return &NetnsDialer{Name: node} }

// LANHits counts the requests the private LAN host has answered.
func (w *EgressWorld) LANHits() int64 { return w.lanHits.Load() }

// WebfingerURL is the peer's webfinger lookup for [EgressWorld.Account] (what a follow
// from Mastodon asks first).
func (w *EgressWorld) WebfingerURL() string {
	return "https://" + w.PeerName + "/.well-known/webfinger?resource=acct:" + w.Account
}

// ActorURL is the peer's actor document.
func (w *EgressWorld) ActorURL() string { return "https://" + w.PeerName + "/users/alice" }

func (w *EgressWorld) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/webfinger", func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("resource") != "acct:"+w.Account {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/jrd+json")
		_ = json.NewEncoder(rw).Encode(map[string]any{
			"subject": "acct:" + w.Account,
			"links":   []map[string]string{{"rel": "self", "type": "application/activity+json", "href": w.ActorURL()}},
		})
	})
	mux.HandleFunc("/users/alice", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/activity+json")
		_ = json.NewEncoder(rw).Encode(map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": w.ActorURL(), "type": "Person",
			"preferredUsername": "alice", "inbox": w.ActorURL() + "/inbox",
		})
	})
	return mux
}

// serve answers HTTP on :80 and HTTPS on :443 at addr inside node.
func (w *EgressWorld) serve(node string, addr netip.Addr, cert tls.Certificate, h http.Handler) error {
	for _, port := range []int{80, 443} {
		l, err := NetnsListen(node, "tcp4", net.JoinHostPort(addr.String(), fmt.Sprint(port)))
		if err != nil {
			return err
		}
		if port == 443 {
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: h}
		go func() { _ = srv.Serve(l) }()
		w.t.Cleanup(func() { _ = srv.Close() })
	}
	return nil
}

// certs makes the test CA and one leaf for both names.
func (w *EgressWorld) certs() (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "v6kit egress world test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: w.PeerName},
		DNSNames:  []string{w.PeerName, w.LANName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	w.RootCAs = x509.NewCertPool()
	w.RootCAs.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}

// startDNS serves the zone: A records for PeerName and LANName, ipv4only.arpa's two A
// records (RFC 7050), NODATA with the SOA for every other question in the zones.
func (w *EgressWorld) startDNS() error {
	zone := dns.Fqdn(w.Zone)
	a := map[string][]netip.Addr{
		dns.Fqdn(w.PeerName): {w.PeerAddr},
		dns.Fqdn(w.LANName):  {w.LANAddr},
		"ipv4only.arpa.":     {netip.MustParseAddr("192.0.0.170"), netip.MustParseAddr("192.0.0.171")},
	}
	h := dns.HandlerFunc(func(rw dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if len(req.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			_ = rw.WriteMsg(m)
			return
		}
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		origin := zone
		if dns.IsSubDomain("ipv4only.arpa.", name) {
			origin = "ipv4only.arpa."
		} else if !dns.IsSubDomain(zone, name) {
			m.Rcode = dns.RcodeRefused
			_ = rw.WriteMsg(m)
			return
		}
		addrs, known := a[name]
		if q.Qtype == dns.TypeA {
			for _, ad := range addrs {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: ad.AsSlice()})
			}
		}
		if !known && name != origin {
			m.Rcode = dns.RcodeNameError
		}
		if len(m.Answer) == 0 {
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1},
				Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 1}}
		}
		_ = rw.WriteMsg(m)
	})
	pc, err := w.Dialer(w.Peer).ListenPacket(context.Background(), "udp4", w.DNS.String())
	if err != nil {
		return err
	}
	l, err := NetnsListen(w.Peer, "tcp4", w.DNS.String())
	if err != nil {
		return err
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: l, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	w.t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return nil
}
