package network_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/network"
)

func chk(id string, st network.State, vals ...string) network.Check {
	c := network.Check{ID: id, State: st, Required: true, Hint: "hint of " + id}
	if len(vals) > 0 {
		c.Values = map[string]string{}
		for i := 0; i+1 < len(vals); i += 2 {
			c.Values[vals[i]] = vals[i+1]
		}
	}
	if i := bytes.IndexByte([]byte(id), '@'); i > 0 {
		c.Addr = netip.MustParseAddr(id[i+1:])
	}
	return c
}

// TestDiagnose feeds symptoms to Diagnose, without any network, and checks the causes.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	const a = "@2001:db8::1"
	cases := []struct {
		name   string
		family network.Family
		checks []network.Check
		causes []string
		ev     []string // evidence of the first diagnosis
	}{
		{"all ok", network.V6Only, []network.Check{chk("inbound.health"+a, network.OK, "status", "200")}, nil, nil},
		{"502 and puma closed", network.V6Only, []network.Check{
			chk("inbound.health"+a, network.Fail, "status", "502"),
			chk("local.puma", network.Fail, "bind", "[::]:3000"),
		}, []string{"web service (puma) down"}, []string{"inbound.health" + a, "local.puma"}},
		{"502 and puma listening", network.V6Only, []network.Check{
			chk("inbound.health"+a, network.Fail, "status", "502"),
			chk("local.puma", network.OK, "bind", "127.0.0.1:3000"),
		}, []string{"nginx cannot reach puma"}, nil},
		{"502 seen from outside", network.V6Only, []network.Check{
			chk("inbound.instance"+a, network.Fail, "status", "504"),
		}, []string{"web service (puma) down, or nginx proxies to the wrong address"}, nil},
		{"websocket 400", network.V6Only, []network.Check{chk("inbound.websocket"+a, network.Fail, "status", "400")},
			[]string{"websocket broken by the proxy"}, nil},
		{"websocket 502 streaming down", network.V6Only, []network.Check{
			chk("inbound.websocket"+a, network.Fail, "status", "502"), chk("local.streaming", network.Fail),
		}, []string{"streaming service down"}, []string{"inbound.websocket" + a, "local.streaming"}},
		{"AAAA elsewhere", network.V6Only, []network.Check{chk("dns.aaaa.host", network.Fail)}, []string{"AAAA points elsewhere"}, nil},
		{"A on v6only", network.V6Only, []network.Check{chk("dns.a.web", network.Fail)}, []string{"A record on an IPv6-only site"}, nil},
		{"no A on dual is not that", network.DualStack, []network.Check{chk("dns.a.web", network.Fail)}, nil, nil},
		{"443 closed, 80 open", network.V6Only, []network.Check{
			chk("inbound.tcp80"+a, network.OK), chk("inbound.tcp443"+a, network.Fail),
		}, []string{"port 443 closed or filtered on 2001:db8::1"}, []string{"inbound.tcp443" + a, "inbound.tcp80" + a}},
		{"wrong name", network.V6Only, []network.Check{chk("inbound.tls"+a, network.Fail, "verify", "wrong name")}, []string{"certificate for the wrong name"}, nil},
		{"expired", network.V6Only, []network.Check{chk("inbound.tls"+a, network.Fail, "verify", "expired")}, []string{"certificate expired"}, nil},
		{"no DNS64", network.V6Only, []network.Check{chk("outbound.dns64", network.Fail), chk("outbound.reach", network.Skipped)},
			[]string{"IPv4-only peers unreachable: no NAT64/DNS64"}, nil},
		{"DNS64 elsewhere", network.V6Only, []network.Check{chk("outbound.dns64", network.Fail, "prefix_via_resolver", "64:ff9b::/96")},
			[]string{"IPv4-only peers unreachable: DNS64 not in resolv.conf"}, nil},
		{"NAT64 down", network.V6Only, []network.Check{chk("outbound.dns64", network.OK), chk("outbound.reach", network.Fail)},
			[]string{"IPv4-only peers unreachable: NAT64 does not forward"}, nil},
		{"prefix blocked", network.V6Only, []network.Check{chk("outbound.dns64", network.OK), chk("outbound.reach", network.OK), chk("outbound.private", network.Fail)},
			[]string{"IPv4-only peers unreachable from Mastodon: NAT64 prefix blocked by Mastodon"}, nil},
		{"blackhole", network.V6Only, []network.Check{
			chk("inbound.tcp443"+a, network.OK),
			{ID: "mtu.transfer" + a, Addr: netip.MustParseAddr("2001:db8::1"), State: network.Fail, Detail: "stalled during the TLS handshake after 0 bytes"},
		}, []string{"path MTU blackhole"}, []string{"mtu.transfer" + a, "inbound.tcp443" + a}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := &network.Report{Family: tc.family, Checks: tc.checks}
			ds := network.Diagnose(rep)
			var causes []string
			for _, d := range ds {
				causes = append(causes, d.Cause)
				assert.NotEmpty(t, d.Hint, d.Cause)
				assert.NotEmpty(t, d.Evidence, d.Cause)
			}
			require.Len(t, causes, len(tc.causes), "%q", causes)
			for i, want := range tc.causes {
				assert.True(t, strings.HasPrefix(causes[i], want), "cause %q, want prefix %q", causes[i], want)
			}
			if tc.ev != nil {
				assert.Equal(t, tc.ev, ds[0].Evidence)
			}
		})
	}
}

// TestReportJSONRoundTrip: the JSON of a report reads back into the same report, so a
// saved report can be diagnosed and rendered again.
func TestReportJSONRoundTrip(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var back network.Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	assert.Equal(t, rep, &back)
	assert.Equal(t, network.Diagnose(rep), network.Diagnose(&back))
	assert.Contains(t, buf.String(), `"state": "not checked"`)
	assert.Contains(t, buf.String(), `"family": "v6only"`)
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	assert.False(t, rep.OK())
	assert.Equal(t, "FAIL: 1 of 3 required checks failed (inbound.websocket@2001:db8::1)", rep.Verdict())
	assert.Len(t, rep.Failed(), 1)
	assert.Equal(t, "inbound.websocket@2001:db8::1", rep.Slowest().ID)
	rep.Checks[2].State = network.OK
	assert.True(t, rep.OK())
	assert.Equal(t, "PASS: social.example.org is ready over IPv6 (IPv6-only): 3 required checks passed, 1 warning(s)", rep.Verdict())
}
