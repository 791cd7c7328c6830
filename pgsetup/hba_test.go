package pgsetup

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// debianHBA is Debian's default pg_hba.conf for PostgreSQL 15, comments trimmed.
const debianHBA = `# PostgreSQL Client Authentication Configuration File
# ===================================================
#
# DO NOT DISABLE!
local   all             postgres                                peer

# TYPE  DATABASE        USER            ADDRESS                 METHOD

# "local" is for Unix domain socket connections only
local   all             all                                     peer
# IPv4 local connections:
host    all             all             127.0.0.1/32            scram-sha-256
# IPv6 local connections:
host    all             all             ::1/128                 scram-sha-256
# Allow replication connections from localhost, by a user with the
# replication privilege.
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
`

func TestParseHBARoundTrip(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"debian":         debianHBA,
		"empty":          "",
		"no final nl":    "local all all peer",
		"crlf":           "local all all peer\r\nhost all all ::1/128 scram-sha-256\r\n",
		"quoted":         "host \"my db\",postgres \"a,b\" ::1/128 scram-sha-256 # trailing comment\n",
		"netmask":        "host all all 192.0.2.0 255.255.255.0 md5\nhost all all 2001:db8:: ffff:ffff:: md5\n",
		"zone":           "host all all fe80::1%eth0/128 md5\n",
		"hostname":       "host all all .example.net scram-sha-256\nhost all all samenet trust\n",
		"options":        "local all all peer map=mastodon\nhostssl all all 2001:db8::/32 cert clientcert=verify-full\n",
		"groups & files": "host +admins @users.txt 10.0.0.0/8 scram-sha-256\n",
		"blanks":         "\n\n   \t\n# only comments\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := ParseHBA([]byte(in))
			require.NoError(t, err)
			assert.Equal(t, in, string(f.Bytes()))
		})
	}
}

func TestParseHBAFields(t *testing.T) {
	t.Parallel()
	f, err := ParseHBA([]byte("host \"my db\",postgres \"all\",+g 192.0.2.0 255.255.255.0 scram-sha-256\nlocal all all peer map=x\n"))
	require.NoError(t, err)
	rules, lines := f.Rules()
	require.Len(t, rules, 2)
	assert.Equal(t, []int{1, 2}, lines)
	assert.Equal(t, HBARule{Type: Host, Databases: []string{"my db", "postgres"}, Users: []string{`"all"`, "+g"},
		Address: netip.MustParsePrefix("192.0.2.0/24"), AddressText: "192.0.2.0 255.255.255.0", Method: ScramSHA256}, rules[0])
	assert.Equal(t, HBARule{Type: Local, Databases: []string{"all"}, Users: []string{"all"}, Method: Peer, Options: []string{"map=x"}}, rules[1])
}

func TestParseHBAErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"hots all all ::1/128 trust":               `pg_hba.conf:1: invalid connection type "hots"`,
		"host all all ::1/129 scram-sha-256":       `invalid CIDR address "::1/129"`,
		"host all all 2001:db8::/64 scram-sha-257": `invalid authentication method "scram-sha-257"`,
		"hostssl all all ::1/128":                  "end of line before the authentication method",
		"host mastodon mastodon ::1 scram-sha-256": `invalid netmask "scram-sha-256"`,
		"local all":                                  "end of line before the user field",
		"host \"unterminated all ::1/128 trust":      "unterminated quoted string",
		"local all all peer map":                     `option "map" is not in name=value form`,
		"# ok\nlocal all all peer\nlocal all all \\": "pg_hba.conf:3: line continuation",
	} {
		_, err := ParseHBA([]byte(in))
		require.Error(t, err, in)
		assert.ErrorIs(t, err, ErrHBASyntax)
		assert.Contains(t, err.Error(), want, in)
	}
	// Every bad line is reported, not only the first.
	_, err := ParseHBA([]byte("hots a b c\nlocal all all peer\nhost all all ::1/200 trust\n"))
	ps := report.AsProblems(err)
	require.Len(t, ps, 2)
	assert.Equal(t, "pg_hba.conf:1", ps[0].Path)
	assert.Equal(t, "pg_hba.conf:3", ps[1].Path)
}

func TestBlockMarkersBroken(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"no end":    "# BEGIN v6kit pgsetup: mastodon\nlocal all mastodon peer\n",
		"no begin":  "local all mastodon peer\n# END v6kit pgsetup: mastodon\n",
		"twice":     "# BEGIN v6kit pgsetup: a\n# END v6kit pgsetup: a\n# BEGIN v6kit pgsetup: a\n# END v6kit pgsetup: a\n",
		"nested":    "# BEGIN v6kit pgsetup: a\n# BEGIN v6kit pgsetup: b\n# END v6kit pgsetup: b\n# END v6kit pgsetup: a\n",
		"wrong end": "# BEGIN v6kit pgsetup: a\n# END v6kit pgsetup: b\n",
	} {
		_, err := ParseHBA([]byte(in))
		assert.ErrorIs(t, err, ErrHBABlock, name)
	}
}

func TestSetBlockIdempotentAndInPlace(t *testing.T) {
	t.Parallel()
	c := Config{Database: "mastodon_production"}
	f, err := ParseHBA([]byte(debianHBA))
	require.NoError(t, err)
	changed, ps := f.SetBlock(c.BlockName(), c.HBARules())
	require.NoError(t, ps.Err())
	require.True(t, changed)
	first := string(f.Bytes())
	// The block goes before "local all all peer", the first rule that would match the
	// role's socket connections; "local all postgres peer" stays above it.
	assert.Less(t, strings.Index(first, "local   all             postgres"), strings.Index(first, beginMarker))
	assert.Less(t, strings.Index(first, endMarker), strings.Index(first, "local   all             all "))
	// Every original line is still there, in order.
	assert.Equal(t, debianHBA, removeBlock(t, first, c.BlockName()))

	// Second run: nothing changes.
	f2, err := ParseHBA([]byte(first))
	require.NoError(t, err)
	changed, ps = f2.SetBlock(c.BlockName(), c.HBARules())
	require.NoError(t, ps.Err())
	assert.False(t, changed)
	assert.Equal(t, first, string(f2.Bytes()))
	got, ok := f2.Block(c.BlockName())
	require.True(t, ok)
	assert.Len(t, got, 3)

	// A new prefix updates the block where it is.
	c.Allow = []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")}
	changed, ps = f2.SetBlock(c.BlockName(), c.HBARules())
	require.NoError(t, ps.Err())
	assert.True(t, changed)
	third := string(f2.Bytes())
	assert.Equal(t, strings.Index(first, beginMarker), strings.Index(third, beginMarker))
	assert.Contains(t, third, "2001:db8:1::/64")
	assert.Equal(t, debianHBA, removeBlock(t, third, c.BlockName()))
}

func removeBlock(t *testing.T, s, name string) string {
	t.Helper()
	lines := strings.Split(s, "\n")
	b := slices.Index(lines, beginMarker+name)
	e := slices.Index(lines, endMarker+name)
	require.True(t, b >= 0 && e > b, "block %q in\n%s", name, s)
	// SetBlock adds one blank separator line after an inserted block.
	require.Equal(t, "", lines[e+1])
	return strings.Join(slices.Concat(lines[:b], lines[e+2:]), "\n")
}

func TestSetBlockWarnsWhenShadowed(t *testing.T) {
	t.Parallel()
	c := Config{}
	f, err := ParseHBA([]byte("local all all peer\n"))
	require.NoError(t, err)
	_, ps := f.SetBlock(c.BlockName(), c.HBARules())
	require.NoError(t, ps.Err())
	// Someone adds a reject rule above the block.
	f, err = ParseHBA(append([]byte("host all all ::/0 reject\n"), f.Bytes()...))
	require.NoError(t, err)
	changed, ps := f.SetBlock(c.BlockName(), c.HBARules())
	assert.False(t, changed)
	require.Len(t, ps.Warnings(), 1)
	assert.Equal(t, "pg_hba.conf:1", ps.Warnings()[0].Path)
	assert.ErrorIs(t, ps.Warnings()[0], ErrHBAShadowed)
}

func TestSetBlockRefusesBadRules(t *testing.T) {
	t.Parallel()
	f, err := ParseHBA([]byte(debianHBA))
	require.NoError(t, err)
	for _, r := range []HBARule{
		{Type: Host, Users: []string{"m"}, Address: netip.MustParsePrefix("::1/128"), Method: Peer},
		{Type: Host, Users: []string{"m"}, Method: ScramSHA256},
		{Type: Host, Users: []string{"a\"b"}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256},
		{Type: Host, Users: []string{"a\nhost all all ::/0 trust"}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256},
		{Type: Host, Users: []string{strings.Repeat("x", 64)}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256},
		{Type: Host, Users: []string{"m"}, Address: netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), 64), Method: ScramSHA256},
		{Type: Local, Users: []string{"m"}, Method: "scram-sha-257"},
		{Type: Local, Users: []string{"m"}, Method: Peer, Options: []string{"map=x y"}},
	} {
		changed, ps := f.SetBlock("mastodon", []HBARule{r})
		assert.False(t, changed, r.String())
		assert.True(t, ps.HasErrors(), r.String())
	}
	assert.Equal(t, debianHBA, string(f.Bytes()))
}

func TestRuleQuoting(t *testing.T) {
	t.Parallel()
	r := HBARule{Type: Host, Databases: []string{"my db", "postgres"}, Users: []string{"ma,stodon"}, Address: netip.MustParsePrefix("::1/128"), Method: ScramSHA256}
	f, err := ParseHBA([]byte(r.String()))
	require.NoError(t, err)
	rules, _ := f.Rules()
	require.Len(t, rules, 1)
	assert.Equal(t, r, rules[0])
}

func TestOverlaps(t *testing.T) {
	t.Parallel()
	p := func(s string) HBARule {
		f, err := ParseHBA([]byte(s))
		require.NoError(t, err)
		r, _ := f.Rules()
		return r[0]
	}
	ours := p("host mastodon_production,postgres mastodon ::1/128 scram-sha-256")
	for s, want := range map[string]bool{
		"host all all ::1/128 trust":                          true,
		"hostssl all all ::/0 md5":                            true,
		"host all all 127.0.0.1/32 trust":                     false,
		"local all all peer":                                  false,
		"host replication all ::1/128 trust":                  false,
		"host all other ::1/128 trust":                        false,
		"host all +admins ::1/128 trust":                      true,
		"host sameuser all ::1/128 trust":                     true,
		"host all all localhost trust":                        true,
		"host other_db mastodon ::1/128 trust":                false,
		"host all all 2001:db8:: ffff:ffff:: reject":          false,
		"host all all 0:0:0:0:0:0:0:0 0:0:0:0:0:0:0:0 reject": true,
	} {
		assert.Equal(t, want, p(s).Overlaps(ours), s)
	}
}

// TestGoldenHBA renders the managed block into each testdata/hba/*.txtar input file and
// compares the result and the problems with the archive; -update rewrites them.
func TestGoldenHBA(t *testing.T) {
	t.Parallel()
	for _, name := range golden.Files(t, "testdata/hba/*.txtar") {
		t.Run(filepath.Base(name), func(t *testing.T) {
			ar := golden.Open(t, name)
			c := configFromComment(t, ar.Comment())
			in, _ := ar.Input("pg_hba.conf")
			var out, problems string
			f, err := ParseHBA(in)
			if err != nil {
				problems = err.Error() + "\n"
			} else {
				ps := c.Validate()
				if !ps.HasErrors() {
					_, bp := f.SetBlock(c.BlockName(), c.HBARules())
					ps = append(ps, bp...)
				}
				problems = ps.Sorted().String()
				out = string(f.Bytes())
				// The golden output parses and round-trips too.
				g, err := ParseHBA([]byte(out))
				require.NoError(t, err)
				assert.Equal(t, out, string(g.Bytes()))
			}
			ar.Check(t, golden.Section{Name: "want/pg_hba.conf", Data: out}, golden.Section{Name: "want/problems", Data: problems})
		})
	}
}

func configFromComment(t *testing.T, comment string) Config {
	t.Helper()
	var c Config
	for _, line := range strings.Split(comment, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "role":
			c.Role = v
		case "database":
			c.Database = v
		case "auth":
			c.Auth = Method(v)
		case "allow":
			c.Allow = append(c.Allow, netip.MustParsePrefix(v))
		case "no-ipv4":
			c.NoIPv4 = v == "true"
		default:
			t.Fatalf("unknown key %q in comment", k)
		}
	}
	return c
}

func FuzzParseHBA(f *testing.F) {
	for _, s := range []string{debianHBA, "", "local all all peer", "host \"a b\",c d ::1/128 scram-sha-256 x=y\r\n",
		"host all all 192.0.2.0 255.255.255.0 md5", "# BEGIN v6kit pgsetup: mastodon\n# END v6kit pgsetup: mastodon\n",
		"host all all fe80::1%eth0/64 md5\nhostssl all all samenet cert"} {
		f.Add(s)
	}
	c := Config{Database: "mastodon_production", Allow: []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHBA([]byte(s))
		if err != nil {
			return
		}
		if got := string(h.Bytes()); got != s {
			t.Fatalf("round trip: got %q, want %q", got, s)
		}
		// Setting the block twice is idempotent and leaves a parseable file.
		if changed, ps := h.SetBlock(c.BlockName(), c.HBARules()); ps.HasErrors() || !changed && !strings.Contains(s, beginMarker) {
			t.Fatalf("SetBlock: changed=%v %v", changed, ps)
		}
		out := h.Bytes()
		h2, err := ParseHBA(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if changed, _ := h2.SetBlock(c.BlockName(), c.HBARules()); changed {
			t.Fatalf("second SetBlock changed the file:\n%s", out)
		}
	})
}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		num, min int
		ok       bool
	}{{150018, 14, true}, {140000, 14, true}, {130020, 14, false}, {90624, 12, false}, {90624, 9, true}, {90423, 9, false}, {100000, 9, true}, {90423, 0, true}} {
		ps := CheckVersion(ServerInfo{VersionNum: tc.num, Major: tc.num / 10000, Version: fmt.Sprint(tc.num)}, tc.min, mastodon.MustLookup("4.5.15"))
		assert.Equal(t, !tc.ok, ps.HasErrors(), "%d vs %d", tc.num, tc.min)
		if !tc.ok {
			assert.ErrorIs(t, ps.Err(), ErrServerTooOld)
		}
	}
}

// TestParseHBAContinuedComment: PostgreSQL 14+ continues a line that ends in a backslash,
// comments included, so the line after "# ... \" is part of the comment, not a rule.
func TestParseHBAContinuedComment(t *testing.T) {
	t.Parallel()
	data := "local all all peer\n# a note \\\nhost all all ::1/128 trust\n  # two \\ \r\n# lines \\\nhost all all 0.0.0.0/0 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	f, err := ParseHBA([]byte(data))
	require.NoError(t, err)
	_, lines := f.Rules()
	assert.Equal(t, []int{1, 7}, lines)
	assert.Equal(t, data, string(f.Bytes()))
}

// TestHBARefusesTrailingBackslash: a marker or rule line ending in a backslash would
// swallow the next line of pg_hba.conf (PostgreSQL 14+ line continuation).
func TestHBARefusesTrailingBackslash(t *testing.T) {
	t.Parallel()
	f, err := ParseHBA([]byte("local all all peer\n"))
	require.NoError(t, err)
	changed, ps := f.SetBlock(`mastodon role evil\`, Config{}.HBARules())
	assert.False(t, changed)
	require.Error(t, ps.Err())
	assert.ErrorIs(t, ps.Err(), ErrHBABlock)
	assert.Equal(t, "local all all peer\n", string(f.Bytes()))

	ps = Config{Role: `evil\`}.Validate()
	require.True(t, ps.HasErrors())
	assert.Equal(t, "role", ps.Errors()[0].Path)

	r := HBARule{Type: Host, Address: netip.MustParsePrefix("::1/128"), Method: "ident", Options: []string{`map=m\`}}
	ps = r.Validate()
	require.True(t, ps.HasErrors())
	assert.Equal(t, "options[0]", ps.Errors()[0].Path)
}
