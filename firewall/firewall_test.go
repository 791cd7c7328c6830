package firewall_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/report"
)

// TestGolden renders every testdata case (the config in config.json) to the nftables
// ruleset and, when the case has a router, the RTX ACL; it checks that ParseACL reads
// the ACL back to the same value and that the real nft -c accepts every ruleset.
func TestGolden(t *testing.T) {
	for _, file := range golden.Files(t, "testdata/*.txtar") {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			a := golden.Open(t, file)
			in, ok := a.Input("config.json")
			require.True(t, ok, "no config.json section")
			var c firewall.Config
			dec := json.NewDecoder(bytes.NewReader(in))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&c))
			require.NoError(t, c.Validate().Err())
			nft, err := c.Bytes()
			require.NoError(t, err)
			out := []golden.Section{{Name: "ruleset.nft", Data: string(nft)}}
			if c.Router != nil {
				acl, err := c.RouterACL()
				require.NoError(t, err)
				rtx, err := acl.Bytes()
				require.NoError(t, err)
				back, err := firewall.ParseACL(bytes.NewReader(rtx))
				require.NoError(t, err)
				assert.Equal(t, acl, back, "ParseACL(Write(acl)) differs from acl")
				out = append(out, golden.Section{Name: "router.rtx", Data: string(rtx)})
			}
			a.Check(t, out...)
			nftCheck(t, nft)
		})
	}
}

// nftCheck runs the real nft -c -f on the ruleset.
func nftCheck(t *testing.T, ruleset []byte) {
	t.Helper()
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	require.NoError(t, firewall.CheckRuleset(context.Background(), ruleset, firewall.CheckOptions{Nft: nft}))
}

func TestCheckRefusesBrokenRuleset(t *testing.T) {
	testenv.RequireRoot(t)
	nft := testenv.Tool(t, "nft", "nftables")
	err := firewall.CheckRuleset(context.Background(), []byte("table inet x { chain input { tcp dport 99999 accept } }\n"), firewall.CheckOptions{Nft: nft})
	require.ErrorIs(t, err, firewall.ErrCheck)
	assert.NotContains(t, err.Error(), os.TempDir(), "the temp file name is replaced")
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func base() firewall.Config {
	return firewall.Config{
		Services: firewall.Mastodon(prefixes("fd6e:7465:7374:10::/64")),
		SSH:      firewall.SSH{From: prefixes("2001:db8:a::/48")},
		Router:   &firewall.RTX{Host: netip.MustParseAddr("2001:db8::10")},
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*firewall.Config)
		want error
		path string
	}{
		{"postgresql from ::/0", func(c *firewall.Config) { c.Services[1].From = prefixes("::/0") }, firewall.ErrOpenToWorld, "services[1].from[0]"},
		{"redis from 0.0.0.0/0", func(c *firewall.Config) { c.Family = firewall.DualStack; c.Services[3].From = prefixes("0.0.0.0/0") }, firewall.ErrOpenToWorld, "services[3].from[0]"},
		{"pgbouncer from 2000::/3", func(c *firewall.Config) { c.Services[2].From = prefixes("2000::/3") }, firewall.ErrOpenToWorld, "services[2].from[0]"},
		{"sentinel from a /32", func(c *firewall.Config) { c.Services[4].From = prefixes("2001:db8::/32") }, firewall.ErrOpenToWorld, "services[4].from[0]"},
		{"postgresql from fc00::/6", func(c *firewall.Config) { c.Services[1].From = prefixes("fc00::/6") }, firewall.ErrOpenToWorld, "services[1].from[0]"},
		{"redis public", func(c *firewall.Config) { c.Services[3].From, c.Services[3].Public = nil, true }, firewall.ErrOpenToWorld, "services[3].public"},
		{"5432 on a public service", func(c *firewall.Config) { c.Services[0].Ports = append(c.Services[0].Ports, 5432) }, firewall.ErrOpenToWorld, "services[0].public"},
		{"empty admin prefix", func(c *firewall.Config) { c.SSH.From = nil }, firewall.ErrNoAdmin, "ssh.from"},
		{"ssh any and from", func(c *firewall.Config) { c.SSH.Any = true }, firewall.ErrNoAdmin, "ssh.from"},
		{"no source", func(c *firewall.Config) { c.Services[1].From = nil }, firewall.ErrNoSource, "services[1].from"},
		{"host bits", func(c *firewall.Config) { c.Services[1].From = prefixes("fd6e:7465:7374:10::1/64") }, firewall.ErrPrefix, "services[1].from[0]"},
		{"ipv4 on v6only", func(c *firewall.Config) { c.Services[1].From = prefixes("10.0.0.0/24") }, firewall.ErrFamily, "services[1].from[0]"},
		{"mapped", func(c *firewall.Config) { c.Services[1].From = prefixes("::ffff:10.0.0.0/120") }, firewall.ErrPrefix, "services[1].from[0]"},
		{"port twice", func(c *firewall.Config) { c.Services[2].Ports = []uint16{5432} }, firewall.ErrPort, "services[2].ports[0]"},
		{"port 0", func(c *firewall.Config) { c.Services[2].Ports = []uint16{0} }, firewall.ErrPort, "services[2].ports[0]"},
		{"no ports", func(c *firewall.Config) { c.Services[2].Ports = nil }, firewall.ErrPort, "services[2].ports"},
		{"bad name", func(c *firewall.Config) { c.Services[2].Name = "Pg Bouncer" }, firewall.ErrName, "services[2].name"},
		{"bad table", func(c *firewall.Config) { c.Table = "a b" }, firewall.ErrTable, "table"},
		{"family", func(c *firewall.Config) { c.Family = 7 }, firewall.ErrFamily, "family"},
		{"router host", func(c *firewall.Config) { c.Router.Host = netip.Addr{} }, firewall.ErrHost, "router.host"},
		{"router host ipv4", func(c *firewall.Config) { c.Router.Host = netip.MustParseAddr("198.51.100.1") }, firewall.ErrHost, "router.host"},
		{"overlapping numbers", func(c *firewall.Config) {
			c.Router.Numbers = firewall.Range{First: 4000, Last: 4099}
			c.Router.Existing = []firewall.Range{{First: 4090, Last: 4200}}
		}, firewall.ErrRange, "router.numbers"},
		{"range too small", func(c *firewall.Config) { c.Router.Numbers = firewall.Range{First: 100, Last: 105} }, firewall.ErrRange, "router.numbers"},
		{"keep inside ours", func(c *firewall.Config) { c.Router.KeepIn = []int{40001} }, firewall.ErrRange, "router.keep_in[0]"},
		{"interface", func(c *firewall.Config) { c.Router.Interface = "lan2; reboot" }, firewall.ErrInterface, "router.interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			require.NoError(t, c.Validate().Err())
			tc.edit(&c)
			ps := c.Validate()
			err := ps.Err()
			require.ErrorIs(t, err, tc.want)
			var paths []string
			for _, p := range ps.Errors() {
				if errors.Is(p, tc.want) {
					paths = append(paths, p.Path)
				}
			}
			assert.Contains(t, paths, tc.path, "problems: %s", ps)

			// nothing is written
			dir := t.TempDir()
			f := filepath.Join(dir, "etc", "nftables.d", "mastodon.nft")
			_, werr := c.WriteFile(f)
			require.ErrorIs(t, werr, tc.want)
			_, serr := os.Stat(filepath.Join(dir, "etc"))
			assert.True(t, os.IsNotExist(serr), "an invalid config created %s", f)
			var buf bytes.Buffer
			require.Error(t, c.Write(&buf))
			assert.Zero(t, buf.Len())
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := base()
	c.SSH.From = nil
	c.Services[1].From = prefixes("::/0")
	c.Router.Existing = []firewall.Range{{First: 40050, Last: 40050}}
	ps := c.Validate()
	for _, want := range []error{firewall.ErrNoAdmin, firewall.ErrOpenToWorld, firewall.ErrRange} {
		assert.ErrorIs(t, ps.Err(), want)
	}
	assert.Len(t, report.AsProblems(ps.Err()), 3, "%s", ps)
}

func TestParseACLErrors(t *testing.T) {
	for _, in := range []string{
		"ipv6 filter 0 pass * * tcp * 80",
		"ipv6 filter 1 allow * * tcp * 80",
		"ipv6 filter 1 pass 198.51.100.1 * tcp * 80",
		"ipv6 filter 1 pass * * tcp * 80\nipv6 filter 1 pass * * tcp * 443",
		"ipv6 tunnel secure filter in 1",
		"ipv6 lan2 secure filter sideways 1",
		"ipv6 lan2 secure filter in 1 dynamic",
		"ip filter 1 pass * * tcp * 80",
		"ipv6 filter 1 pass * * tcp * 80 extra",
		"ipv6 filter 1 pass 2001:db8::1/64 * tcp * 80",
	} {
		_, err := firewall.ParseACL(strings.NewReader(in))
		assert.Error(t, err, "%q", in)
	}
}

func TestParseACLDefaults(t *testing.T) {
	acl, err := firewall.ParseACL(strings.NewReader("# a comment\n\nipv6 filter 4009 pass * 2001:db8::10 tcp * https\nipv6 filter 4099 reject *\n"))
	require.NoError(t, err)
	require.Len(t, acl.Filters, 2)
	assert.Equal(t, "https", acl.Filters[0].DstPort)
	assert.Equal(t, netip.MustParsePrefix("2001:db8::10/128"), acl.Filters[0].Dst)
	assert.Equal(t, firewall.Filter{Num: 4099, Action: "reject", Proto: "*", SrcPort: "*", DstPort: "*"}, acl.Filters[1])
}

func TestParseRange(t *testing.T) {
	r, err := firewall.ParseRange("4000-4099")
	require.NoError(t, err)
	assert.Equal(t, firewall.Range{First: 4000, Last: 4099}, r)
	r, err = firewall.ParseRange("7")
	require.NoError(t, err)
	assert.Equal(t, firewall.Range{First: 7, Last: 7}, r)
	for _, bad := range []string{"", "0-3", "5-4", "1-2147483648", "a-b", "-"} {
		_, err := firewall.ParseRange(bad)
		assert.ErrorIs(t, err, firewall.ErrRange, bad)
	}
}

// TestRealRouterNumbers: an RTX's configuration uses filter numbers far above 65535
// (Yamaha's IPv6 IPoE sample: 101000-101099, dynamic filters with syslog=off); those
// lines parse and round-trip, and such a range can be named as existing (and avoided).
func TestRealRouterNumbers(t *testing.T) {
	in := "ipv6 filter 101000 pass * * icmp6 * *\n" +
		"ipv6 filter 101002 pass * * udp * 546\n" +
		"ipv6 filter 101099 pass * * * * *\n" +
		"ipv6 filter 402100 pass * * * * *\n" +
		"ipv6 filter dynamic 101080 * * ftp syslog=off\n" +
		"ipv6 filter dynamic 101081 * * domain\n" +
		"ipv6 filter dynamic 101098 * * tcp syslog=on\n" +
		"ipv6 lan2 secure filter in 101000 101002\n" +
		"ipv6 lan2 secure filter out 101099 dynamic 101080 101081 101098\n"
	acl, err := firewall.ParseACL(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, acl.Dynamic, 3)
	assert.Equal(t, firewall.Dynamic{Num: 101080, Proto: "ftp", Syslog: "off"}, acl.Dynamic[0])
	assert.Empty(t, acl.Dynamic[1].Syslog)
	var b bytes.Buffer
	require.NoError(t, acl.Write(&b))
	for _, l := range strings.Split(strings.TrimSpace(in), "\n") {
		assert.Contains(t, b.String(), l+"\n", "written back as read")
	}
	back, err := firewall.ParseACL(&b)
	require.NoError(t, err)
	assert.Equal(t, acl, back)
	_, err = firewall.ParseACL(strings.NewReader("ipv6 filter dynamic 1 * * tcp syslog=maybe\n"))
	assert.ErrorIs(t, err, firewall.ErrSyntax)

	r, err := firewall.ParseRange("101000-101099")
	require.NoError(t, err)
	c := base()
	c.Router.Existing = []firewall.Range{r, {First: 402100, Last: 402100}}
	require.NoError(t, c.Validate().Err(), "the sample's ranges are existing filters, not an error")
	c.Router.Numbers = firewall.Range{First: 101050, Last: 101149}
	ps := c.Validate()
	require.ErrorIs(t, ps.Err(), firewall.ErrRange)
	assert.Contains(t, ps.Err().Error(), "overlaps the existing filters 101000-101099")
	c.Router.Numbers = firewall.Range{First: 200000, Last: 200099}
	acl2, err := c.RouterACL()
	require.NoError(t, err)
	assert.Equal(t, 200000, acl2.Filters[0].Num)
}
