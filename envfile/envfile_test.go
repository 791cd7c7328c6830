package envfile

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

func TestParseSyntax(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("# c\r\n\r\n  export A = 'x y' # note\r\nB=\"q\\\"uote\\n\"\nC: yaml\nD=plain # tail\nE=\nF='#not'\n"))
	require.NoError(t, err)
	require.Len(t, f.Lines, 8)
	assert.Equal(t, Line{Kind: Comment, Text: "# c", Num: 1}, f.Lines[0])
	assert.Equal(t, Blank, f.Lines[1].Kind)
	a := f.Lines[2]
	assert.Equal(t, []any{"A", "x y", true, Single, 3}, []any{a.Key, a.Value, a.Export, a.Quote, a.Num})
	v, _ := f.Get("B")
	assert.Equal(t, "q\"uote\n", v)
	v, _ = f.Get("C")
	assert.Equal(t, "yaml", v)
	v, _ = f.Get("D")
	assert.Equal(t, "plain", v)
	v, ok := f.Get("E")
	assert.True(t, ok)
	assert.Empty(t, v)
	v, _ = f.Get("F")
	assert.Equal(t, "#not", v)
	assert.Equal(t, []string{"A", "B", "C", "D", "E", "F"}, f.Keys())
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		sentinel  error
		line      int
	}{
		{"unterminated single", "A=1\nB='abc\n", ErrUnterminatedQuote, 2},
		{"unterminated double (multi-line)", "A=\"first\nsecond\"\n", ErrUnterminatedQuote, 1},
		{"trailing text", "\n\nA='x'y\n", ErrTrailingText, 3},
		{"bad key", "MY-KEY=1\n", ErrBadKey, 1},
		{"digit key", "1A=1\n", ErrBadKey, 1},
		{"no equals", "JUSTAKEY\n", ErrSyntax, 1},
		{"garbage", "=value\n", ErrSyntax, 1},
		{"bom", "\xef\xbb\xbfA=1\n", ErrEncoding, 1},
		{"invalid utf-8", "A=1\nB=\xff\xfe\n", ErrEncoding, 2},
		{"lone CR", "A=1\rB=2\n", ErrEncoding, 1},
		{"line separator", "A=x\u2028y\n", ErrEncoding, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tc.src))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tc.sentinel)
			ps := report.AsProblems(err)
			require.NotEmpty(t, ps)
			assert.Equal(t, ".env.production:"+strconv.Itoa(tc.line), ps[0].Path)
		})
	}
	// A secret's text is never echoed, even the part after a stray quote.
	_, err := Parse([]byte("DB_PASS='it's-hunter2'\n"))
	require.ErrorIs(t, err, ErrTrailingText)
	assert.NotContains(t, err.Error(), "hunter2")
	// A secret pasted on a line of its own (the rake secret / VAPID routine) is never echoed,
	// whatever shape the parser thinks it has: bad key, key without '=', or garbage.
	hex := "3f9a1c0e5b7d2a48" + "96e1f0c3b5a7d9e2" + "4c6b8a0f1e3d5c7b" + "9a2e4f6d8c0b1a3e"
	vapid := "BDd3_hVL9fZi9Ybo2UUzA284WG5FZR30_95YeZJsiApwXKpNcF1rRPF3foIiBHXRdJI2Qhumhf6_LFTeZaNndIo"
	for _, line := range []string{hex, vapid, "=" + hex, "  " + vapid + " x", "SECRET_KEY_BASE " + hex, "-" + vapid} {
		_, err := Parse([]byte("A=1\n" + line + "\n"))
		require.Error(t, err, line)
		for _, frag := range []string{hex[8:24], hex[40:56], vapid[10:26], vapid[60:76]} {
			assert.NotContains(t, err.Error(), frag, "line %q", line)
		}
		if !strings.HasPrefix(line, "SECRET_KEY_BASE") { // there the message names only the key
			assert.Contains(t, err.Error(), "not shown", "line %q", line)
		}
	}
	// Names and ordinary mistakes are still quoted, so the admin can find them.
	_, err = Parse([]byte("S3_ENDPOINT\n"))
	assert.Contains(t, err.Error(), "S3_ENDPOINT: expected '='")
	_, err = Parse([]byte("1A=1\n"))
	assert.Contains(t, err.Error(), `key "1A"`)
	// Every problem at once.
	_, err = Parse([]byte("A='x\nB=ok\nC-D=1\nE='y'z\n"))
	ps := report.AsProblems(err)
	require.Len(t, ps, 3, "%v", err)
	assert.Equal(t, []string{".env.production:1", ".env.production:3", ".env.production:4"}, []string{ps[0].Path, ps[1].Path, ps[2].Path})
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"", "", nil},
		{"social.example.org", "social.example.org", nil},
		{"redis://[::1]:6379/0", "redis://[::1]:6379/0", nil},
		{"pa$$word", "'pa$$word'", nil},
		{"a b", "'a b'", nil},
		{"x#y", "'x#y'", nil},
		{`back\slash`, `'back\slash'`, nil},
		{"`tick`", "'`tick`'", nil},
		{`say "hi"`, `'say "hi"'`, nil},
		{"it's", `"it's"`, nil},
		{"it's #1", `"it's #1"`, nil},
		{"it's $5", "", ErrUnwritable},
		{`it's "x"`, "", ErrUnwritable},
		{`it's \`, "", ErrUnwritable},
		{"two\nlines", "", ErrControlChar},
		{"nul\x00", "", ErrControlChar},
		{"bell\a", "", ErrControlChar},
		{"tab\tok", "'tab\tok'", nil},
		{"ünï", "'ünï'", nil},
	} {
		got, err := FormatValue(tc.in)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
		// What FormatValue writes, every reader reads back unchanged.
		line := "K=" + got
		l, perr := parseLine(line)
		require.Nil(t, perr, "%q", line)
		assert.Equal(t, tc.in, l.Value)
		for _, p := range testPairs() {
			r, n, _, _ := readOne(p, line)
			assert.Equal(t, tc.in, r.value, "Rails (%s) reads %q", p, line)
			if !p.NodeTrimsQuoted() || strings.TrimFunc(tc.in, isJSSpace) == tc.in {
				assert.Equal(t, tc.in, n.value, "streaming (%s) reads %q", p, line)
			}
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		"social.example.org":    "social.example.org",
		"Social.Example.ORG":    "social.example.org",
		"bücher.example":        "xn--bcher-kva.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"a-b.example.":          "a-b.example",
	}
	for in, want := range ok {
		got, err := NormalizeDomain(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "has space.example", "new\nline.example", "semi;colon.example", "dots..example",
		strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".example",
		strings.Repeat("a", 64) + ".example", "localhost", "https://social.example", "social.example:443", "192.0.2.1", "2001:db8::1",
		"-lead.example", "trail-.example", "under_score.example", "example.123", ".lead.example"} {
		_, err := NormalizeDomain(bad)
		assert.ErrorIs(t, err, ErrDomain, "%q must be refused", bad)
	}
}

func TestSecretsFormats(t *testing.T) {
	t.Parallel()
	rnd := newSeeded("formats")
	for range 20 {
		h, err := GenerateSecret(mastodon.Hex128, rnd)
		require.NoError(t, err)
		assert.NoError(t, CheckSecret(mastodon.Hex128, h))
		a, err := GenerateSecret(mastodon.Alnum32, rnd)
		require.NoError(t, err)
		assert.NoError(t, CheckSecret(mastodon.Alnum32, a))
		priv, pub, err := GenerateVAPID(rnd)
		require.NoError(t, err)
		assert.Len(t, priv, 44)
		assert.Len(t, pub, 88)
		assert.True(t, strings.HasSuffix(priv, "="))
		raw, err := base64.URLEncoding.DecodeString(pub)
		require.NoError(t, err)
		assert.Equal(t, byte(4), raw[0], "uncompressed point")
		assert.NoError(t, CheckSecret(mastodon.VAPIDPrivate, priv))
		assert.NoError(t, CheckSecret(mastodon.VAPIDPublic, pub))
		assert.True(t, vapidMatch(priv, pub))
		// Ruby's urlsafe_decode64 accepts unpadded keys too.
		assert.True(t, vapidMatch(strings.TrimRight(priv, "="), strings.TrimRight(pub, "=")))
	}
	assert.ErrorIs(t, CheckSecret(mastodon.Hex128, strings.Repeat("A", 128)), ErrSecretFormat)
	assert.ErrorIs(t, CheckSecret(mastodon.Alnum32, strings.Repeat("a", 31)+"-"), ErrSecretFormat)
	assert.ErrorIs(t, CheckSecret(mastodon.VAPIDPrivate, "not base64!"), ErrSecretFormat)
	// A broken random source is an error, not a weak secret.
	_, err := GenerateSecret(mastodon.Hex128, bytes.NewReader(make([]byte, 10)))
	assert.Error(t, err)
	_, _, err = GenerateVAPID(bytes.NewReader(make([]byte, 32*100+10))) // all-zero scalars are invalid
	assert.Error(t, err)
}

func newFile(t *testing.T, version string, cfg Config) *File {
	t.Helper()
	cfg.LocalDomain = "social.example.org"
	f, ps := New(cfg, Options{Release: mastodon.MustLookup(version), Rand: newSeeded(version)})
	require.NoError(t, ps.Err())
	return f
}

func reparse(t *testing.T, f *File) *File {
	t.Helper()
	b, err := f.Bytes()
	require.NoError(t, err)
	g, err := Parse(b)
	require.NoError(t, err)
	return g
}

func TestMergeKeepsSecretsAndIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"1.6", "2.9", "3.5", "4.0", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			rel := mastodon.MustLookup(v)
			f := reparse(t, newFile(t, v, Config{}))
			want, _ := f.Bytes()
			for _, s := range rel.Secrets() {
				val, ok := f.Get(s.Name)
				require.True(t, ok, "%s generated", s.Name)
				require.NoError(t, CheckSecret(s.Format, val))
			}
			// A second run with another random source changes nothing.
			g, ps := Merge(f, Config{LocalDomain: "social.example.org"}, Options{Release: rel, Rand: newSeeded("other")})
			require.NoError(t, ps.Err())
			got, err := g.Bytes()
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
			assert.Empty(t, Diff(f, g))
			assert.Empty(t, Generated(f, g, rel))
		})
	}
}

func TestMergeUpgradeEveryLine(t *testing.T) {
	t.Parallel()
	// From every line to every later line: no secret ever changes, no key is dropped.
	lines := mastodon.Lines()
	for i, from := range lines {
		old := reparse(t, newFile(t, from, Config{}))
		for _, to := range lines[i:] {
			rel := mastodon.MustLookup(to)
			up, ps := Merge(old, Config{}, Options{Release: rel, Rand: newSeeded(to)})
			for _, p := range ps.Errors() {
				t.Errorf("%s → %s: %v", from, to, p)
			}
			for _, k := range old.Keys() {
				ov, _ := old.Get(k)
				nv, ok := up.Get(k)
				assert.True(t, ok, "%s → %s: %s dropped", from, to, k)
				assert.Equal(t, ov, nv, "%s → %s: %s changed", from, to, k)
			}
		}
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	rel := mastodon.MustLookup("4.7")
	f := reparse(t, newFile(t, "4.7", Config{}))
	opt := func(rotate, confirm []string) Options {
		return Options{Release: rel, Rand: newSeeded("rotate"), Rotate: rotate, ConfirmLoss: confirm}
	}
	// Non-destructive: one flag is enough.
	g, ps := Merge(f, Config{}, opt([]string{"SECRET_KEY_BASE"}, nil))
	require.NoError(t, ps.Err())
	assert.Equal(t, []string{"SECRET_KEY_BASE"}, Generated(f, g, rel))
	assert.Contains(t, Diff(f, g), "+SECRET_KEY_BASE=<new secret>")
	assert.NotContains(t, Diff(f, g), mustGet(g, "SECRET_KEY_BASE"))

	// Destructive without confirmation: an error naming the loss, nothing changed.
	key := "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"
	g, ps = Merge(f, Config{}, opt([]string{key}, nil))
	require.Error(t, ps.Err())
	assert.ErrorIs(t, ps.Err(), ErrRotateNeedsConfirmation)
	assert.Contains(t, ps.Err().Error(), "signing key")
	assert.Contains(t, ps.Err().Error(), "--i-understand-data-loss="+key)
	assert.Equal(t, mustGet(f, key), mustGet(g, key))
	// Confirmation for another key does not count.
	_, ps = Merge(f, Config{}, opt([]string{key}, []string{"OTP_SECRET"}))
	assert.ErrorIs(t, ps.Err(), ErrRotateNeedsConfirmation)
	// Confirmed: rotated.
	g, ps = Merge(f, Config{}, opt([]string{key}, []string{key}))
	require.NoError(t, ps.Err())
	assert.Equal(t, []string{key}, Generated(f, g, rel))

	// VAPID rotates as a pair.
	g, ps = Merge(f, Config{}, opt([]string{"VAPID_PUBLIC_KEY"}, nil))
	require.NoError(t, ps.Err())
	assert.Equal(t, []string{"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}, Generated(f, g, rel))
	assert.True(t, vapidMatch(mustGet(g, "VAPID_PRIVATE_KEY"), mustGet(g, "VAPID_PUBLIC_KEY")))

	// Not a secret of this release.
	_, ps = Merge(f, Config{}, opt([]string{"OTP_SECRET"}, []string{"OTP_SECRET"}))
	assert.ErrorIs(t, ps.Err(), ErrRotate)
	_, ps = Merge(f, Config{}, opt([]string{"DB_PASS"}, nil))
	assert.ErrorIs(t, ps.Err(), ErrRotate)

	// OTP_SECRET on 4.3 is destructive.
	f43 := reparse(t, newFile(t, "4.3", Config{}))
	_, ps = Merge(f43, Config{}, Options{Release: mastodon.MustLookup("4.3"), Rotate: []string{"OTP_SECRET"}})
	assert.ErrorIs(t, ps.Err(), ErrRotateNeedsConfirmation)
	assert.Contains(t, ps.Err().Error(), "2FA")
}

func mustGet(f *File, k string) string {
	v, _ := f.Get(k)
	return v
}

func TestMergeRules(t *testing.T) {
	t.Parallel()
	rel := mastodon.MustLookup("4.7")
	f := reparse(t, newFile(t, "4.7", Config{}))

	// Config may not set a generated secret.
	_, ps := Merge(f, Config{Extra: []Var{{"SECRET_KEY_BASE", strings.Repeat("0", 128)}}}, Options{Release: rel})
	assert.ErrorIs(t, ps.Err(), ErrRotate)
	// LOCAL_DOMAIN cannot change.
	_, ps = Merge(f, Config{LocalDomain: "other.example.org"}, Options{Release: rel})
	assert.ErrorIs(t, ps.Err(), ErrDomain)
	// New settings land in their section, existing ones change in place.
	g, ps := Merge(f, Config{DB: DB{SSLMode: "disable", Port: 5433}, TrustedProxyIP: nil}, Options{Release: rel})
	require.NoError(t, ps.Err())
	keys := g.Keys()
	assert.Equal(t, indexOf(keys, "DB_PORT")+1, indexOf(keys, "DB_SSLMODE"))
	assert.Equal(t, "5433", mustGet(g, "DB_PORT"))
	// A missing VAPID public key is derived, not regenerated.
	h := f.Clone()
	require.True(t, h.Delete("VAPID_PUBLIC_KEY"))
	g, ps = Merge(h, Config{}, Options{Release: rel})
	require.NoError(t, ps.Err())
	assert.Equal(t, mustGet(f, "VAPID_PUBLIC_KEY"), mustGet(g, "VAPID_PUBLIC_KEY"))
	assert.Equal(t, mustGet(f, "VAPID_PRIVATE_KEY"), mustGet(g, "VAPID_PRIVATE_KEY"))
	// New requires a domain, and bad config values are errors naming the key.
	_, ps = New(Config{}, Options{Release: rel})
	assert.ErrorIs(t, ps.Err(), ErrMissing)
	_, ps = New(Config{LocalDomain: "bad domain", DB: DB{Port: 70000}, SMTP: SMTP{Password: "a\nb"}}, Options{Release: rel})
	for _, s := range []string{"LOCAL_DOMAIN", "DB_PORT", "SMTP_PASSWORD"} {
		assert.Contains(t, ps.Err().Error(), s+": ")
	}
	assert.NotContains(t, ps.Err().Error(), "a\nb")
}

func indexOf(s []string, k string) int {
	for i, x := range s {
		if x == k {
			return i
		}
	}
	return -1
}

func TestValidatePitfalls(t *testing.T) {
	t.Parallel()
	base := reparse(t, newFile(t, "4.7", Config{}))
	for _, tc := range []struct {
		version  string
		set      map[string]string
		opt      Options
		sentinel error
		severity report.Severity
	}{
		{"4.7", map[string]string{"DB_HOST": "[::1]"}, Options{}, ErrDBHostYAML, report.Error},
		{"4.7", map[string]string{"DB_HOST": "::ffff:127.0.0.1"}, Options{}, ErrDBHostYAML, report.Error},
		{"4.1", map[string]string{"REDIS_URL": "redis://[::1]:6379/0"}, Options{}, ErrRedisIPv6, report.Error},
		{"4.7", map[string]string{"REDIS_HOST": "[fd00::6]"}, Options{}, ErrRedisIPv6, report.Error},
		{"4.2", map[string]string{"DATABASE_URL": "postgresql://u:p@[::1]/db"}, Options{}, ErrDatabaseURLBrackets, report.Error},
		{"4.2", map[string]string{"DB_SSLMODE": "prefer"}, Options{}, ErrSSLModePrefer, report.Error},
		{"4.2", map[string]string{"BIND": "::"}, Options{}, ErrBind, report.Warning},
		{"4.7", map[string]string{"BIND": "::"}, Options{}, ErrBindBrackets, report.Warning},
		{"2.9", map[string]string{"DB_PASS": "p#ss"}, Options{}, ErrDBPassYAML, report.Error},
		{"3.4", map[string]string{"DB_PASS": "p#ss"}, Options{}, ErrDBPassYAML, report.Error},
		{"1.6", map[string]string{"DB_PASS": "s3cret: x"}, Options{}, ErrDBPassYAML, report.Error},
		{"2.9", map[string]string{"DB_PASS": "0x1F"}, Options{}, ErrDBPassYAML, report.Error},
		{"2.9", map[string]string{"DB_PASS": "yes"}, Options{}, ErrDBPassYAML, report.Error},
		{"2.9", map[string]string{"DB_PASS": "*ref"}, Options{}, ErrDBPassYAML, report.Error},
		{"4.2", map[string]string{"REDIS_PASSWORD": "p@ss-word-123456"}, Options{}, ErrRedisPasswordURL, report.Error},
		{"1.6", map[string]string{"REDIS_PASSWORD": "a/b#c-1234567890"}, Options{}, ErrRedisPasswordURL, report.Error},
		{"4.3", map[string]string{"BIND": "fd00::5"}, Options{}, ErrBindBrackets, report.Warning},
		{"4.4", map[string]string{"REDIS_NAMESPACE": "m"}, Options{}, ErrRemoved, report.Error},
		{"4.7", map[string]string{"LOCAL_DOMAIN": "bücher.example"}, Options{}, ErrDomain, report.Error},
		{"4.7", map[string]string{"WEB_DOMAIN": "a..b"}, Options{}, ErrDomain, report.Error},
		{"4.7", map[string]string{"ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY": "x_DO_NOT_USE_IN_PRODUCTION"}, Options{}, ErrSecretFormat, report.Error},
		{"4.7", map[string]string{"VAPID_PUBLIC_KEY": "short"}, Options{}, ErrSecretFormat, report.Error},
		{"4.7", map[string]string{"SMTP_PORT": "0"}, Options{}, ErrPort, report.Error},
		{"4.7", map[string]string{"SINGLE_USER_MODE": "yes please"}, Options{}, ErrBool, report.Error},
		{"4.7", map[string]string{"TRUSTED_PROXY_IP": "fd00::/64,not-an-ip"}, Options{}, ErrPrefix, report.Error},
		{"4.7", map[string]string{"ALLOWED_PRIVATE_ADDRESSES": "fd00::/8"}, Options{NAT64: netipPrefix("64:ff9b::/96")}, ErrNAT64, report.Warning},
		{"3.2", nil, Options{NAT64: netipPrefix("64:ff9b::/96")}, ErrNAT64, report.Warning},
		{"4.4", map[string]string{"REDIS_SENTINELS": "s1.example:26379,fd00::5"}, Options{}, ErrSentinelLiteral, report.Error},
		{"4.7", map[string]string{"SIDEKIQ_REDIS_SENTINELS": "[fd00::5]:26379"}, Options{}, ErrSentinelLiteral, report.Error},
		{"4.1", map[string]string{"REPLICA_DB_NAME": "mastodon_production"}, Options{}, ErrReplica, report.Warning},
		{"4.2.0", map[string]string{"REPLICA_DB_HOST": "fd00::12"}, Options{}, ErrReplica, report.Warning},
		{"4.5.3", map[string]string{"REPLICA_DB_HOST": "fd00::12"}, Options{}, ErrReplica, report.Warning},
	} {
		f := base.Clone()
		for k, v := range tc.set {
			f.Set(k, v)
		}
		opt := tc.opt
		opt.Release = mastodon.MustLookup(tc.version)
		ps := f.Validate(opt)
		found := false
		for _, p := range ps {
			if errors.Is(p, tc.sentinel) {
				found = true
				assert.Equal(t, tc.severity, p.Severity, "%v: %s", tc.set, p)
			}
		}
		assert.True(t, found, "%s %v: want %v, got:\n%s", tc.version, tc.set, tc.sentinel, ps)
	}
	// The NAT64 prefix (or a wider one) in the list silences the warning; no false alarms on a clean file.
	f := base.Clone()
	f.Set("ALLOWED_PRIVATE_ADDRESSES", "fd00::/8, 64:ff9b::/32")
	assert.Empty(t, f.Validate(Options{NAT64: netipPrefix("64:ff9b::/96")}))
	// Named (or IPv4) sentinels and a replica the release turns on pass.
	for _, tc := range []struct {
		version string
		set     map[string]string
	}{
		{"4.4", map[string]string{"REDIS_SENTINELS": "s1.example:26379,s2.example,10.0.0.5:26380"}},
		{"4.5.4", map[string]string{"REPLICA_DB_HOST": "fd00::12"}},
		{"4.5.3", map[string]string{"REPLICA_DB_HOST": "fd00::12", "REPLICA_DB_NAME": "mastodon_production"}},
	} {
		f := base.Clone()
		for k, v := range tc.set {
			f.Set(k, v)
		}
		for _, p := range f.Validate(Options{Release: mastodon.MustLookup(tc.version)}) {
			assert.NotErrorIs(t, p, ErrSentinelLiteral, "%s %v", tc.version, tc.set)
			assert.NotErrorIs(t, p, ErrReplica, "%s %v", tc.version, tc.set)
		}
	}
	f = base.Clone()
	f.Set("REDIS_SENTINELS", "fd00::5")
	assert.Contains(t, f.Validate(Options{Release: mastodon.MustLookup("4.4")}).Err().Error(), "redis_configuration.rb", "names Mastodon's parser")
	// REDIS_PASSWORD is pasted raw into a URL only before 4.3, and only when REDIS_URL is unset.
	for _, tc := range []struct{ version, url string }{{"4.3", ""}, {"4.7", ""}, {"4.2", "redis://:p%40ss@127.0.0.1:6379/0"}} {
		f := base.Clone()
		f.Set("REDIS_PASSWORD", "p@ss-word-123456")
		if tc.url != "" {
			f.Set("REDIS_URL", tc.url)
		}
		for _, p := range f.Validate(Options{Release: mastodon.MustLookup(tc.version)}) {
			assert.NotErrorIs(t, p, ErrRedisPasswordURL, "%s %s", tc.version, tc.url)
		}
	}
	// DB_PASS is pasted raw into YAML only before 3.5 (mastodon#17627); plain text passes there too.
	for _, tc := range []struct{ version, pass string }{{"3.5", "p#ss: 'x'"}, {"2.9", "Secr3t-pass_with.dots+slash/"}, {"2.9", "3abc"}} {
		f := base.Clone()
		f.Set("DB_PASS", tc.pass)
		for _, p := range f.Validate(Options{Release: mastodon.MustLookup(tc.version)}) {
			assert.NotErrorIs(t, p, ErrDBPassYAML, "%s %q", tc.version, tc.pass)
			assert.NotContains(t, p.Message, tc.pass, "the password is never shown")
		}
	}
	// From 4.3 a bracketed BIND serves both puma and streaming.
	f = base.Clone()
	f.Set("BIND", "[::]")
	assert.Empty(t, f.Validate(Options{}))
	// Bare IPv6 literals that do not start with ':' are fine for DB_HOST; REDIS_URL brackets from 4.2.
	f = reparse(t, newFile(t, "4.2", Config{}))
	f.Set("DB_HOST", "fd00::5")
	f.Set("REDIS_URL", "redis://[fd00::6]:6379/0")
	assert.Empty(t, f.Validate(Options{Release: mastodon.MustLookup("4.2")}).Errors())
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, ".env.production")
	f := newFile(t, "4.7", Config{})
	res, err := f.WriteFile(name)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	st, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	// The same bytes again: nothing touched.
	res, err = f.WriteFile(name)
	require.NoError(t, err)
	assert.False(t, res.Changed)

	// A change keeps the old content as a 0600 backup, even when the old file was 0644.
	require.NoError(t, os.Chmod(name, 0o644))
	g := f.Clone()
	g.Set("DB_NAME", "other")
	res, err = g.WriteFile(name)
	require.NoError(t, err)
	require.NotEmpty(t, res.Backup)
	bst, err := os.Stat(res.Backup)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), bst.Mode().Perm())

	// A file that does not parse is never overwritten.
	bad := []byte("SECRET_KEY_BASE=keep-me\nBROKEN='unterminated\n")
	require.NoError(t, os.WriteFile(name, bad, 0o640))
	_, err = f.WriteFile(name)
	assert.ErrorIs(t, err, ErrUnparsable)
	got, _ := os.ReadFile(name)
	assert.Equal(t, bad, got)

	// A value no form can carry: nothing written.
	g = f.Clone()
	g.Set("SMTP_PASSWORD", "line1\nline2")
	other := filepath.Join(dir, "other.env")
	_, err = g.WriteFile(other)
	assert.ErrorIs(t, err, ErrControlChar)
	assert.NotContains(t, err.Error(), "line1")
	_, statErr := os.Stat(other)
	assert.True(t, os.IsNotExist(statErr))
}

// TestWriteFileThroughSymlink writes to a .env.production that links to a shared copy
// (a Capistrano-style shared/ directory): the target gets the new content and the link
// stays, so the next release's link still points at the current secrets.
func TestWriteFileThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.env")
	f := newFile(t, "4.7", Config{})
	_, err := f.WriteFile(shared)
	require.NoError(t, err)
	link := filepath.Join(dir, ".env.production")
	require.NoError(t, os.Symlink("shared.env", link))
	g := f.Clone()
	g.Set("DB_NAME", "other")
	res, err := g.WriteFile(link)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	st, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, st.Mode()&os.ModeSymlink, "the link stays a link")
	got, err := ParseFile(shared)
	require.NoError(t, err)
	v, _ := got.Get("DB_NAME")
	assert.Equal(t, "other", v, "the target holds the new content")
	assert.Equal(t, filepath.Join(dir, ".v6kit-backup"), filepath.Dir(res.Backup), "the backup sits beside the target, in .v6kit-backup/")
}

func TestWriteFileUnwritableDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		// root writes anywhere; use a path under a regular file instead.
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o600))
		_, err := newFile(t, "4.7", Config{}).WriteFile(filepath.Join(dir, "file", ".env.production"))
		assert.Error(t, err)
		return
	}
	dir := testenv.TempDir(t)
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err := newFile(t, "4.7", Config{}).WriteFile(filepath.Join(dir, ".env.production"))
	assert.Error(t, err)
}

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := Config{
		LocalDomain: "social.example.org", WebDomain: "web.example.org", AlternateDomains: []string{"a.example", "b.example"},
		DB:    DB{Host: "/run/postgresql", Port: 5433, Name: "m", User: "u", Password: "p w", SSLMode: "disable"},
		Redis: Redis{Host: "127.0.0.1", Port: 6380, User: "default", Password: "r", DB: Int(2)},
		SMTP: SMTP{Server: "smtp.example.org", Port: 25, Login: "l", Password: "it's", FromAddress: "M <n@example.org>",
			AuthMethod: "none", OpenSSLVerifyMode: "none", EnableStartTLS: "auto", EnableStartTLSAuto: Bool(false), TLS: Bool(false)},
		S3:                      S3{Enabled: Bool(true), Bucket: "b", Region: "r", Endpoint: "https://s3", Hostname: "h", Protocol: "https", AliasHost: "files.example", AccessKeyID: "k", SecretAccessKey: "s"},
		ES:                      ES{Enabled: Bool(true), Host: "fd00::9", Port: 9200, User: "e", Password: "x"},
		SingleUserMode:          Bool(false),
		AuthorizedFetch:         Bool(true),
		LimitedFederationMode:   Bool(false),
		LocalHTTPS:              Bool(true),
		AllowedPrivateAddresses: []netipPrefixT{netipPrefix("64:ff9b::/96")},
		TrustedProxyIP:          []netipPrefixT{netipPrefix("fd00::1/128"), netipPrefix("10.0.0.0/8")},
	}
	f, ps := New(cfg, Options{Rand: newSeeded("cfg")})
	require.NoError(t, ps.Err())
	back, ps := reparse(t, f).Config()
	require.Empty(t, ps)
	assert.Equal(t, cfg, back)
}

// Issue 12: a LOCAL_DOMAIN that was refused, or is missing from a new file, is one
// problem, not also "LOCAL_DOMAIN is not set".
func TestRefusedDomainReportedOnce(t *testing.T) {
	t.Parallel()
	for _, domain := range []string{"exa mple.org", ""} {
		_, ps := New(Config{LocalDomain: domain}, Options{})
		var paths []string
		for _, p := range ps.Errors() {
			paths = append(paths, p.Path)
		}
		assert.Equal(t, []string{"LOCAL_DOMAIN"}, paths, "%q: %v", domain, ps.Errors())
	}
}
