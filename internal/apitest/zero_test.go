package apitest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/bundle"
	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/haproxy"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/network"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/pgbouncer"
	"github.com/v6kit/v6kit/pgreplica"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/redisconf"
	"github.com/v6kit/v6kit/sentinel"
	"github.com/v6kit/v6kit/units"
)

// seeded is a Rand that reads the same bytes every time, so two renderings generate
// the same secrets.
func seeded() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{'v', '6'}) }

// render is everything a function of the release produces, printed, so that two
// renderings compare as text: values, problems (with their messages) and errors.
func render(vs ...any) string {
	var b bytes.Buffer
	for _, v := range vs {
		if bs, ok := v.([]byte); ok {
			b.Write(bs)
		} else {
			fmt.Fprintf(&b, "%+v\n", v)
		}
	}
	return b.String()
}

// TestZeroReleaseIsNewest proves the release convention's zero value in every public
// package that takes a release: what each renders for the zero mastodon.Release is
// exactly what it renders for mastodon.Newest(), and (so the comparison proves
// something) differs from what it renders for an older line.
func TestZeroReleaseIsNewest(t *testing.T) {
	a, p := netip.MustParseAddr, netip.MustParsePrefix
	envCfg := envfile.Config{LocalDomain: "example.org", SMTP: envfile.SMTP{Server: "relay.example.org"}}
	cases := []struct {
		name string
		old  string // a line whose rendering differs; empty: none does (yet)
		f    func(t *testing.T, rel mastodon.Release) string
	}{
		{"envfile.New(Options.Release)", "1.6", func(t *testing.T, rel mastodon.Release) string {
			f, ps := envfile.New(envCfg, envfile.Options{Release: rel, Rand: seeded()})
			require.NoError(t, ps.Err())
			b, err := f.Bytes()
			return render(b, err, ps, f.Release)
		}},
		{"envfile.Generated", "1.6", func(t *testing.T, rel mastodon.Release) string {
			f, ps := envfile.New(envCfg, envfile.Options{Rand: seeded()})
			require.NoError(t, ps.Err())
			return render(envfile.Generated(nil, f, rel))
		}},
		{"envfile.Header", "1.6", func(t *testing.T, rel mastodon.Release) string { return envfile.Header(rel) }},
		{"envfile.Config.Defaults", "1.6", func(t *testing.T, rel mastodon.Release) string { return render(envCfg.Defaults(rel)) }},
		{"units.Deployment.Release", "2.9", func(t *testing.T, rel mastodon.Release) string {
			plan, err := units.Deployment{Release: rel, Bind: a("::1")}.Render()
			require.NoError(t, err)
			return render(plan)
		}},
		{"nginxconf.Site.Release", "1.6", func(t *testing.T, rel mastodon.Release) string {
			b, err := nginxconf.Site{Domain: "social.example.org", Release: rel}.Bytes()
			return render(b, err)
		}},
		{"pgsetup.Config.Release", "1.6", func(t *testing.T, rel mastodon.Release) string {
			c := pgsetup.Config{Release: rel}
			return render(c.MinPostgresMajor(), pgsetup.CheckVersion(pgsetup.ServerInfo{VersionNum: 90624, Major: 9, Version: "9.6.24"}, c.MinPostgresMajor(), rel))
		}},
		{"redisconf.Config.Release", "4.1", func(t *testing.T, rel mastodon.Release) string {
			env, ps := redisconf.Config{Release: rel, Family: redisconf.IPv6Only}.Env()
			return render(env, ps)
		}},
		{"network.Options.Release", "2.6", func(t *testing.T, rel mastodon.Release) string {
			steps, err := network.Plan(network.Options{Domain: "social.example.org", Release: rel, Local: true, Outbound: true})
			return render(steps, err)
		}},
		{"egress.NAT64.Release", "4.0", func(t *testing.T, rel mastodon.Release) string {
			n := egress.NAT64{Release: rel, DNS64: []netip.Addr{a("2001:db8:1::1")}, Clients: []netip.Prefix{p("2001:db8:1::/64")}}
			files, ps := n.Files()
			return render(files, ps, n.Env())
		}},
		{"egress.Proxy.Release", "2.3", func(t *testing.T, rel mastodon.Release) string {
			pr := egress.Proxy{Release: rel, URL: "http://[2001:db8:1::3]:3128", Clients: []netip.Prefix{p("2001:db8:1::/64")}}
			files, ps := pr.Files()
			return render(files, ps, pr.Env())
		}},
		{"haproxy.Config.Release", "", func(t *testing.T, rel mastodon.Release) string {
			c := haproxy.Config{Release: rel, Web: []haproxy.Server{{Name: "web1", Addr: a("fd00:1::21")}}, Sources: []netip.Addr{a("2001:db8::41")}}
			b, err := c.Bytes()
			env, ps := c.Env()
			return render(b, err, env, ps)
		}},
		{"pgbouncer.Config.Release", "1.6", func(t *testing.T, rel mastodon.Release) string {
			c := pgbouncer.Config{Release: rel, Listen: []netip.Addr{a("fd00:db::11")}, Server: a("fd00:db::11"),
				Verifier: "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$c3RvcmVk:c2VydmVy",
				Pool: units.PoolerBudget{Clients: units.Budget{WebHosts: 1, Sidekiq: []int{25}, StreamingInstances: 1},
					MaxClientConn: 200, DefaultPoolSize: 30, MaxConnections: 100}}
			b, err := c.Bytes()
			env, ps := c.Env()
			return render(b, err, env, ps, c.Validate())
		}},
		{"pgreplica.Config.Release", "4.1", func(t *testing.T, rel mastodon.Release) string {
			c := pgreplica.Config{Release: rel, Primary: a("fd00:db::11"), Replica: a("fd00:db::12"),
				ReplicaPrefix: p("fd00:db::/64"), Password: "replication-secret-0123456789"}
			env, ps := c.Env()
			return render(env, ps, c.Validate())
		}},
		{"sentinel.Config.Release", "4.2", func(t *testing.T, rel mastodon.Release) string {
			c := sentinel.Config{Release: rel,
				Redis:     []sentinel.Node{{Name: "redis1.example.net", Addr: a("fd00:5::31")}, {Name: "redis2.example.net", Addr: a("fd00:5::32")}},
				Sentinels: []sentinel.Node{{Name: "s1.example.net", Addr: a("fd00:5::31")}, {Name: "s2.example.net", Addr: a("fd00:5::32")}, {Name: "s3.example.net", Addr: a("fd00:5::33")}},
				Password:  "redis-password-0123456789"}
			env, ps := c.Env()
			return render(env, ps, c.Validate())
		}},
		{"bundle.SplitSidekiq", "2.9", func(t *testing.T, rel mastodon.Release) string { return render(bundle.SplitSidekiq(rel)) }},
		{"bundle.Host.Release", "1.6", func(t *testing.T, rel mastodon.Release) string {
			tree := bundle.New("", t.TempDir())
			info := bundle.Host{Release: rel, LocalDomain: "example.org", AdminEmail: "admin@example.org", Rand: seeded()}.Compose(tree)
			require.NoError(t, bundle.Check(tree))
			out := render(info.Release)
			for _, f := range tree.Files() {
				out += render(f.Path, f.Mode, f.Data)
			}
			return out
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			zero, newest := tc.f(t, mastodon.Release{}), tc.f(t, mastodon.Newest())
			require.NotEmpty(t, newest)
			assert.Equal(t, newest, zero, "the zero Release must render as mastodon.Newest()")
			if tc.old != "" {
				assert.NotEqual(t, newest, tc.f(t, mastodon.MustLookup(tc.old)), "the rendering does not depend on the release: pick another old line")
			}
		})
	}
}
