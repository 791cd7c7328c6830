package network_test

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/network"
)

// TestDeadResolver: with a resolver that never answers, a failed A query is never "no
// A record": inbound.ipv4-refused is skipped, not "ok: no A record", the diagnosis does
// not claim an A record, and the headline tells failed and skipped apart (issue 12,
// defect 3: it said "ok: no A record", "A record on an IPv6-only site" and "13 of 13
// required checks failed" when 3 failed and 10 were skipped).
func TestDeadResolver(t *testing.T) {
	t.Parallel()
	// A UDP socket that reads nothing: queries to it time out, as to a dead resolver.
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	dead := netip.MustParseAddrPort(pc.LocalAddr().String())

	o := network.Options{Domain: "social.example.org", Resolver: dead, CheckTimeout: 300 * time.Millisecond}
	rep := probeLoop(t, o, 5*time.Second)

	a, ok := rep.Find("dns.a.web")
	require.True(t, ok)
	require.Equal(t, network.Fail, a.State, a.Detail)
	r, ok := rep.Find("inbound.ipv4-refused")
	require.True(t, ok)
	assert.NotEqual(t, network.OK, r.State, "a failed query is not 'no A record': %s", r.Detail)
	assert.NotContains(t, r.Detail, "no A record")
	for _, d := range rep.Diagnoses {
		assert.NotContains(t, d.Cause, "A record on an IPv6-only site")
		assert.NotContains(t, d.Cause, "no usable AAAA record")
	}
	assert.True(t, hasCause(rep, "the DNS query failed"), "%+v", rep.Diagnoses)

	failed, skipped, req := 0, 0, 0
	for _, c := range rep.Checks {
		if !c.Required {
			continue
		}
		req++
		switch c.State {
		case network.Fail:
			failed++
		case network.Skipped, network.NotChecked:
			skipped++
		}
	}
	require.Positive(t, skipped, "checks after DNS are skipped")
	v := rep.Verdict()
	assert.True(t, strings.HasPrefix(v, "FAIL: "+strconv.Itoa(failed)+" of "+strconv.Itoa(req)+" required checks failed, "+strconv.Itoa(skipped)+" skipped or not checked"), v)
}

// TestUnreadableResolvConf: with no --resolver and a resolv.conf that cannot be read
// (missing, a directory, no nameserver line), the DNS checks fail (not "no record"),
// the checks that need their answers are skipped, and the headline counts failed and
// skipped apart (issue 12, defect 3).
func TestUnreadableResolvConf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.conf")
	require.NoError(t, os.WriteFile(empty, []byte("# no nameserver\nsearch example.org\n"), 0o644))
	for name, rc := range map[string]string{
		"missing":       filepath.Join(dir, "nope.conf"),
		"a directory":   dir,
		"no nameserver": empty,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := network.Options{Domain: "social.example.org", ResolvConf: rc, CheckTimeout: 300 * time.Millisecond}
			rep := probeLoop(t, o, 5*time.Second)
			failed, skipped, req := 0, 0, 0
			for _, c := range rep.Checks {
				if strings.HasPrefix(c.ID, "dns.") {
					assert.Equal(t, network.Fail, c.State, "%s: %s", c.ID, c.Detail)
					assert.NotContains(t, strings.ToLower(c.Detail), "no a record", c.ID)
					assert.NotContains(t, c.Detail, "NODATA", c.ID)
					assert.Contains(t, c.Hint, rc, "%s: the hint names the file", c.ID)
				}
				if !c.Required {
					continue
				}
				req++
				switch c.State {
				case network.Fail:
					failed++
				case network.Skipped, network.NotChecked:
					skipped++
				case network.OK:
					assert.False(t, strings.HasPrefix(c.ID, "inbound."), "%s passed without DNS: %s", c.ID, c.Detail)
				}
			}
			r, ok := rep.Find("inbound.ipv4-refused")
			require.True(t, ok)
			assert.Equal(t, network.Skipped, r.State, r.Detail)
			for _, d := range rep.Diagnoses {
				assert.NotContains(t, d.Cause, "A record on an IPv6-only site")
				assert.NotContains(t, d.Cause, "no usable AAAA record")
			}
			assert.True(t, hasCause(rep, "the DNS query failed"), "%+v", rep.Diagnoses)
			require.Positive(t, skipped, "checks after DNS are skipped")
			v := rep.Verdict()
			assert.True(t, strings.HasPrefix(v, "FAIL: "+strconv.Itoa(failed)+" of "+strconv.Itoa(req)+" required checks failed, "+strconv.Itoa(skipped)+" skipped or not checked"), v)
		})
	}
}
