package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// pathMTU reads the kernel's path MTU for a connected IPv6 socket (IPV6_PATHMTU).
func pathMTU(c net.Conn) (int, bool) {
	if _, ok := c.(syscall.Conn); !ok {
		return 0, false
	}
	m, err := ipv6.NewConn(c).PathMTU()
	if err != nil || m <= 0 {
		return 0, false
	}
	return m, true
}

const mtuHint = "Packet Too Big is being dropped on the path (a PMTU blackhole): allow ICMPv6 type 2 in every firewall between the server and its clients; " +
	"as a stop-gap set net.ipv4.tcp_mtu_probing=1 on the server or clamp the MSS (nft: tcp flags syn tcp option maxseg size set rt mtu)"

// checkTransfer is mtu.transfer: a TLS handshake plus a GET of MTUPath, so that the
// server sends full-sized packets; a stall after TCP connects means a blackhole.
func checkTransfer(ctx context.Context, r *run, c *Check) {
	raw, ok := dialHTTPS(ctx, r, c)
	if !ok {
		return
	}
	defer raw.Close()
	cc := &countConn{Conn: raw}
	cfg := r.tlsConfig(r.o.WebDomain, "http/1.1")
	cfg.InsecureSkipVerify = true // inbound.tls verifies; this check measures bytes
	tc := tls.Client(cc, cfg)
	stalled := func(stage string) {
		n := cc.n.Load()
		set(c, "bytes", strconv.FormatInt(n, 10))
		if m, ok := pathMTU(raw); ok {
			set(c, "path_mtu", strconv.Itoa(m))
		}
		c.fail(mtuHint, "stalled during the %s after %d bytes although TCP connected: large packets from %s never arrive", stage, n, c.Addr)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		if isTimeout(err) {
			stalled("TLS handshake")
			return
		}
		c.fail("fix TLS first (see inbound.tls)", "TLS handshake failed: %v", err)
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.httpsURL(r.o.WebDomain, r.o.MTUPath), nil)
	req.Header.Set("User-Agent", "v6kit-probe/1")
	req.Header.Set("Accept-Encoding", "identity")
	req.Close = true
	if err := req.Write(tc); err != nil {
		c.fail("", "writing the request: %v", err)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), req)
	if err != nil {
		if isTimeout(err) {
			stalled("response")
			return
		}
		c.fail("", "reading the response: %v", err)
		return
	}
	body, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	if err != nil && isTimeout(err) {
		stalled("response body")
		return
	}
	n := cc.n.Load()
	set(c, "bytes", strconv.FormatInt(n, 10))
	set(c, "status", strconv.Itoa(resp.StatusCode))
	if m, ok := pathMTU(raw); ok {
		set(c, "path_mtu", strconv.Itoa(m))
	}
	if n < 4000 {
		c.warn("set the MTU path (--mtu-path / Options.MTUPath) to a resource of at least 64 KB to test the path MTU",
			"only %d bytes received (body %d): too small to fill full-sized packets", n, body)
		return
	}
	c.ok("%d bytes over TLS from %s without a stall", n, c.Addr)
}

// dontFragment makes a socket send without fragmenting and without the kernel's own
// path MTU clamping, so that a 1500-byte packet leaves as such.
func dontFragment(pc net.PacketConn) error {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
		}
	})
	return errors.Join(err, serr)
}

// checkICMP sends one 1500-byte ICMPv6 echo with don't-fragment and waits for the echo
// reply or a Packet Too Big. It needs CAP_NET_RAW.
func checkICMP(ctx context.Context, r *run, c *Check) {
	pc, err := r.o.PacketListener.ListenPacket(ctx, "ip6:ipv6-icmp", "::")
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			c.State = NotChecked
			c.Detail = "not checked: needs CAP_NET_RAW (run as root for this advisory check; mtu.transfer does not need it)"
			return
		}
		c.State = NotChecked
		c.Detail = "not checked: " + err.Error()
		return
	}
	defer pc.Close()
	if err := dontFragment(pc); err != nil {
		c.State = NotChecked
		c.Detail = "not checked: cannot set don't-fragment on the ICMPv6 socket: " + err.Error()
		return
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = pc.SetDeadline(dl)
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := int(binary.BigEndian.Uint16(idb[:]))
	payload := make([]byte, 1500-40-8)
	copy(payload, "v6kit path MTU probe")
	msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: id, Seq: 1, Data: payload}}
	wb, err := msg.Marshal(nil)
	if err != nil {
		c.fail("", "marshal: %v", err)
		return
	}
	dst := &net.IPAddr{IP: c.Addr.AsSlice(), Zone: c.Addr.Zone()}
	if _, err := pc.WriteTo(wb, dst); err != nil {
		if errors.Is(err, syscall.EMSGSIZE) {
			set(c, "path_mtu", "<1500 (known to the kernel)")
			c.ok("the kernel already knows a path MTU below 1500 to %s: Packet Too Big was delivered earlier", c.Addr)
			return
		}
		c.fail("", "send: %v", err)
		return
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if isTimeout(err) {
				c.warn("no echo reply and no Packet Too Big: ICMPv6 is filtered, or PTB is dropped (advisory; mtu.transfer decides)",
					"no answer to a 1500-byte echo from %s", c.Addr)
				return
			}
			c.fail("", "receive: %v", err)
			return
		}
		m, err := icmp.ParseMessage(58, buf[:n])
		if err != nil {
			continue
		}
		switch body := m.Body.(type) {
		case *icmp.Echo:
			if m.Type == ipv6.ICMPTypeEchoReply && body.ID == id {
				set(c, "path_mtu", "≥1500")
				c.ok("1500-byte echo answered by %s: path MTU at least 1500", c.Addr)
				return
			}
		case *icmp.PacketTooBig:
			// the quoted packet is our echo (IPv6 header + ICMPv6 header)
			if len(body.Data) >= 48 && int(binary.BigEndian.Uint16(body.Data[44:46])) == id {
				set(c, "path_mtu", strconv.Itoa(body.MTU))
				set(c, "ptb_from", fmt.Sprint(from))
				c.ok("Packet Too Big from %s: path MTU %d (PMTU discovery works)", from, body.MTU)
				return
			}
		}
		if ctx.Err() != nil {
			c.warn("no echo reply and no Packet Too Big (advisory; mtu.transfer decides)", "no answer to a 1500-byte echo from %s", c.Addr)
			return
		}
	}
}
