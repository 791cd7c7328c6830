package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/report"
)

// TestPlanGolden renders the plan for each options file in testdata/plan/*.txtar and
// compares it with the "plan" section (go test ./network -run TestPlanGolden -update).
func TestPlanGolden(t *testing.T) {
	for _, f := range golden.Files(t, "testdata/plan/*.txtar") {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			ar := golden.Open(t, f)
			var opts network.Options
			if in, ok := ar.Input("options.json"); ok {
				require.NoError(t, json.Unmarshal(in, &opts))
			}
			steps, err := network.Plan(opts)
			require.NoError(t, err)
			var got bytes.Buffer
			for _, s := range steps {
				got.WriteString(strings.TrimRight(s.String(), " ") + "\n")
			}
			ar.Check(t, golden.Section{Name: "plan", Data: got.String()})
		})
	}
}

func TestPlanShapes(t *testing.T) {
	t.Parallel()
	ids := func(o network.Options) map[string]network.Step {
		steps, err := network.Plan(o)
		require.NoError(t, err)
		m := map[string]network.Step{}
		for _, s := range steps {
			key := s.ID
			if s.PerAddr == network.EachA {
				key += "/v4"
			}
			m[key] = s
		}
		return m
	}
	v6 := ids(network.Options{Domain: "social.example.org"})
	assert.Contains(t, v6, "inbound.ipv4-refused")
	assert.NotContains(t, v6, "inbound.parity")
	assert.NotContains(t, v6, "local.puma")
	assert.NotContains(t, v6, "outbound.dns64")
	assert.NotContains(t, v6, "dns.aaaa.web", "one name: no separate WEB_DOMAIN lookup")
	assert.Equal(t, []string{"inbound.tcp443"}, v6["inbound.tls"].After)
	assert.True(t, v6["dns.a.web"].Required)

	dual := ids(network.Options{Domain: "example.org", WebDomain: "social.example.org", Family: network.DualStack, Local: true, Outbound: true})
	assert.Contains(t, dual, "inbound.parity")
	assert.Contains(t, dual, "inbound.tls/v4")
	assert.Contains(t, dual, "dns.aaaa.web")
	assert.Equal(t, []string{"host.ipv6-address", "dns.aaaa.web"}, dual["dns.aaaa.host"].After)
	assert.True(t, dual["local.redis@127.0.0.1"].Required, "dual-stack needs IPv4 loopback too")
	assert.False(t, dual["outbound.dns64"].Required, "a dual-stack host needs no NAT64")
	assert.Empty(t, dual["outbound.reach"].After)

	v6local := ids(network.Options{Domain: "social.example.org", Local: true, Outbound: true})
	assert.False(t, v6local["local.redis@127.0.0.1"].Required)
	assert.True(t, v6local["outbound.dns64"].Required)
	assert.Equal(t, []string{"outbound.dns64"}, v6local["outbound.reach"].After)
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    network.Options
		path string
		err  error
	}{
		{"missing domain", network.Options{}, "domain", network.ErrDomain},
		{"domain with scheme", network.Options{Domain: "https://social.example.org"}, "domain", network.ErrDomain},
		{"domain with space", network.Options{Domain: "social example.org"}, "domain", network.ErrDomain},
		{"domain with newline", network.Options{Domain: "social.example.org\nevil"}, "domain", network.ErrDomain},
		{"domain is an address", network.Options{Domain: "2001:db8::1"}, "domain", network.ErrDomain},
		{"single label", network.Options{Domain: "localhost"}, "domain", network.ErrDomain},
		{"label with dash", network.Options{Domain: "-x.example.org"}, "domain", network.ErrDomain},
		{"bad web domain", network.Options{Domain: "example.org", WebDomain: "a;b.example.org"}, "web_domain", network.ErrDomain},
		{"bad family", network.Options{Domain: "example.org", Family: 7}, "family", network.ErrFamily},
		{"resolver port 0", network.Options{Domain: "example.org", Resolver: netip.MustParseAddrPort("[2001:db8::53]:0")}, "resolver", network.ErrResolver},
		{"web bind port 0", network.Options{Domain: "example.org", WebBind: netip.MustParseAddrPort("[::]:0")}, "web_bind", network.ErrBind},
		{"outbound url scheme", network.Options{Domain: "example.org", OutboundURL: "ftp://x.example"}, "outbound_url", network.ErrURL},
		{"mtu path", network.Options{Domain: "example.org", MTUPath: "/a b"}, "mtu_path", network.ErrValue},
		{"negative timeout", network.Options{Domain: "example.org", CheckTimeout: -time.Second}, "check_timeout", network.ErrTimeout},
		{"password newline", network.Options{Domain: "example.org", PostgresPassword: "a\nb"}, "postgres_password", network.ErrValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := tc.o.Validate()
			require.True(t, ps.HasErrors(), "%+v", ps)
			assert.Equal(t, tc.path, ps.Errors()[0].Path)
			assert.ErrorIs(t, ps.Err(), tc.err)
			_, err := network.Plan(tc.o)
			assert.ErrorIs(t, err, tc.err)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err = network.Probe(ctx, tc.o)
			assert.ErrorIs(t, err, tc.err)
			assert.NotNil(t, report.AsProblems(err))
		})
	}
	assert.Empty(t, network.Options{Domain: "Bücher.example", WebDomain: "social.bücher.example."}.Validate())
}

func TestProbeNeedsDeadline(t *testing.T) {
	t.Parallel()
	o := network.Options{Domain: "social.example.org"}
	_, err := network.Probe(context.Background(), o)
	require.ErrorIs(t, err, network.ErrTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	_, err = network.Probe(ctx, o)
	require.ErrorIs(t, err, network.ErrTimeout)
}

func TestParseResolver(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2001:db8::53":        "[2001:db8::53]:53",
		"[2001:db8::53]:5353": "[2001:db8::53]:5353",
		"[2001:db8::53]":      "[2001:db8::53]:53",
		"192.0.2.53":          "192.0.2.53:53",
		"192.0.2.53:5300":     "192.0.2.53:5300",
	} {
		got, err := network.ParseResolver(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.String())
	}
	for _, bad := range []string{"", "resolver.example", "[::1]:0", "1.2.3", "::1]:x"} {
		_, err := network.ParseResolver(bad)
		assert.ErrorIs(t, err, network.ErrResolver, bad)
	}
}

func TestFamily(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"v6only", "dual"} {
		f, err := network.ParseFamily(s)
		require.NoError(t, err)
		assert.Equal(t, s, f.String())
	}
	_, err := network.ParseFamily("v4only")
	assert.True(t, errors.Is(err, network.ErrFamily))
	var st network.State
	require.NoError(t, st.UnmarshalText([]byte("not checked")))
	assert.Equal(t, network.NotChecked, st)
	assert.Error(t, st.UnmarshalText([]byte("bogus")))
	_ = mastodon.Newest()
}
