package network

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// The inbound checks of a host's packet filter, seen from the probe: that the ports
// meant for the app hosts only are closed to it (inbound.closed), and that the host acts
// on ICMPv6 Packet Too Big (inbound.ptb) instead of dropping it, which would make a
// path MTU blackhole for every client behind a smaller MTU.

// closedPorts are the internal services' default ports: PostgreSQL, PgBouncer, Redis,
// Redis Sentinel. From outside the app network none of them may answer.
var closedPorts = []struct {
	port uint16
	name string
}{{5432, "PostgreSQL"}, {6432, "PgBouncer"}, {6379, "Redis"}, {26379, "Redis Sentinel"}}

// firewallSteps are the filter checks plan adds per AAAA address with
// [Options.Firewall]. On the host itself
// (Local) they are left out: its own connections arrive over loopback, which every
// filter accepts.
func firewallSteps(o Options) []Step {
	if !o.Firewall || o.Local {
		return nil
	}
	return []Step{
		{ID: "inbound.closed", Group: GroupInbound, Title: "PostgreSQL, PgBouncer, Redis and Sentinel ports closed to this vantage point", PerAddr: EachAAAA, After: []string{"inbound.tcp443"}},
		{ID: "inbound.ptb", Group: GroupInbound, Title: "the host acts on ICMPv6 Packet Too Big (a filter dropping it makes a PMTU blackhole)", PerAddr: EachAAAA, After: []string{"inbound.tcp443"}},
	}
}

// firewallCheckFor returns the implementation of the filter steps, or nil.
func firewallCheckFor(id string) checkFunc {
	switch id {
	case "inbound.closed":
		return checkClosed
	case "inbound.ptb":
		return checkPTB
	}
	return nil
}

// checkClosed dials every internal port at once; refused and filtered both pass.
func checkClosed(ctx context.Context, r *run, c *Check) {
	if c.Addr.IsLoopback() {
		c.State, c.Detail = NotChecked, "not checked: loopback is never filtered"
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	states := make([]string, len(closedPorts))
	var wg sync.WaitGroup
	for i, p := range closedPorts {
		wg.Go(func() {
			t := netip.AddrPortFrom(c.Addr, p.port)
			conn, err := r.o.Dialer.DialContext(ctx, tcpFamily(c.Addr), t.String())
			switch {
			case err == nil:
				conn.Close()
				states[i] = "open"
			case errors.Is(err, syscall.ECONNREFUSED):
				states[i] = "refused"
			default:
				states[i] = "filtered"
			}
		})
	}
	wg.Wait()
	var open []string
	for i, p := range closedPorts {
		set(c, strconv.Itoa(int(p.port)), states[i])
		if states[i] == "open" {
			open = append(open, fmt.Sprintf("%s (%d)", p.name, p.port))
		}
	}
	if len(open) > 0 {
		c.fail("allow these ports only from the app hosts' prefix (v6-firewall --app PREFIX renders such a ruleset), or bind the services to loopback",
			"reachable from here on %s: %s", c.Addr, strings.Join(open, ", "))
		return
	}
	c.ok("%d internal ports closed on %s (refused or filtered)", len(closedPorts), c.Addr)
}

// checkPTB sends the host a Packet Too Big (MTU 1280) about an echo reply it just sent
// this probe, then reads the MSS of a new TCP connection: a host that took the message
// in lowers the MSS it offers (1280 - 60 = 1220, less options) for this address. It
// needs a raw ICMPv6 socket (CAP_NET_RAW); without one the check is not run. Side
// effect: the host uses a 1280 path MTU towards this address for about ten minutes.
func checkPTB(ctx context.Context, r *run, c *Check) {
	if c.Addr.IsLoopback() || c.Addr.IsLinkLocalUnicast() {
		// a Packet Too Big about ::1 would lower this machine's own loopback MTU
		c.State, c.Detail = NotChecked, "not checked: not sent to a loopback or link-local address"
		return
	}
	t := netip.AddrPortFrom(c.Addr, r.o.HTTPSPort)
	before, local, err := dialMSS(ctx, r, t)
	if err != nil {
		c.State, c.Detail = NotChecked, "not checked: "+err.Error()
		return
	}
	set(c, "mss_before", strconv.Itoa(before))
	if before <= 1220 {
		c.State, c.Detail = NotChecked, fmt.Sprintf("not checked: the MSS is already %d (the host knows a path MTU of 1280 or less to this address)", before)
		return
	}
	pc, err := r.o.PacketListener.ListenPacket(ctx, "ip6:ipv6-icmp", "::")
	if err != nil {
		c.State = NotChecked
		c.Detail = "not checked: " + err.Error()
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			c.Detail = "not checked: needs CAP_NET_RAW to send a Packet Too Big (run as root for this advisory check)"
		}
		return
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = pc.SetDeadline(dl)
	}
	// an echo first, so the reply the Packet Too Big quotes is one the host's
	// connection tracking knows (a stateful filter passes the error as related)
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	echo := &icmp.Echo{ID: int(binary.BigEndian.Uint16(idb[:])), Seq: 1, Data: []byte("v6kit packet too big probe")}
	dst := &net.IPAddr{IP: c.Addr.AsSlice()}
	if b, err := (&icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: echo}).Marshal(nil); err == nil {
		_, _ = pc.WriteTo(b, dst)
		awaitEcho(pc, echo.ID, 700*time.Millisecond)
	}
	reply, err := (&icmp.Message{Type: ipv6.ICMPTypeEchoReply, Body: echo}).Marshal(icmp.IPv6PseudoHeader(c.Addr.AsSlice(), local.AsSlice()))
	if err != nil {
		c.fail("", "marshal: %v", err)
		return
	}
	inner := make([]byte, 40, 40+len(reply))
	inner[0] = 6 << 4
	binary.BigEndian.PutUint16(inner[4:], uint16(len(reply)))
	inner[6], inner[7] = 58, 64
	a16, l16 := c.Addr.As16(), local.As16()
	copy(inner[8:24], a16[:])
	copy(inner[24:40], l16[:])
	inner = append(inner, reply...)
	ptb, err := (&icmp.Message{Type: ipv6.ICMPTypePacketTooBig, Body: &icmp.PacketTooBig{MTU: 1280, Data: inner}}).Marshal(nil)
	if err != nil {
		c.fail("", "marshal: %v", err)
		return
	}
	if _, err := pc.WriteTo(ptb, dst); err != nil {
		c.State, c.Detail = NotChecked, "not checked: send Packet Too Big: "+err.Error()
		return
	}
	time.Sleep(100 * time.Millisecond)
	after, _, err := dialMSS(ctx, r, t)
	if err != nil {
		c.State, c.Detail = NotChecked, "not checked: "+err.Error()
		return
	}
	set(c, "mss_after", strconv.Itoa(after))
	if after > 1220 {
		c.fail("the host or a filter in front of it drops ICMPv6 Packet Too Big: accept icmpv6 type packet-too-big (RFC 4890 section 4.4.1; v6-firewall's ruleset does), or clients behind a smaller MTU stall",
			"after a Packet Too Big with MTU 1280 the host still offers MSS %d (was %d)", after, before)
		return
	}
	c.ok("after a Packet Too Big with MTU 1280 the host offers MSS %d (was %d): it acts on PTB", after, before)
}

// dialMSS connects to t and returns the connection's MSS (TCP_MAXSEG: the smaller of
// the host's offer and this side's) and the local address.
func dialMSS(ctx context.Context, r *run, t netip.AddrPort) (int, netip.Addr, error) {
	conn, err := r.o.Dialer.DialContext(ctx, tcpFamily(t.Addr()), t.String())
	if err != nil {
		return 0, netip.Addr{}, err
	}
	defer conn.Close()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, netip.Addr{}, fmt.Errorf("the dialer's connection has no socket to read TCP_MAXSEG from")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, netip.Addr{}, err
	}
	mss, serr := 0, error(nil)
	if err := raw.Control(func(fd uintptr) { mss, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG) }); err != nil {
		return 0, netip.Addr{}, err
	}
	if serr != nil {
		return 0, netip.Addr{}, serr
	}
	la, _ := netip.ParseAddrPort(conn.LocalAddr().String())
	return mss, la.Addr().Unmap(), nil
}

// awaitEcho reads until the echo reply with id arrives or wait passes.
func awaitEcho(pc net.PacketConn, id int, wait time.Duration) {
	_ = pc.SetReadDeadline(time.Now().Add(wait))
	defer pc.SetReadDeadline(time.Time{})
	buf := make([]byte, 1500)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if m, err := icmp.ParseMessage(58, buf[:n]); err == nil && m.Type == ipv6.ICMPTypeEchoReply {
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id {
				return
			}
		}
	}
}
