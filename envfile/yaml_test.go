package envfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// yamlCorpus mixes what admins write (hosts, sockets, names, ports) with what the
// hostile sweep found (YAML indicators, comments, aliases, tags, typed scalars).
var yamlCorpus = []string{
	"localhost", "db.example.org", "10.0.0.5", "fd00::10", "2001:db8::5", "0::1", "/var/run/postgresql",
	"mastodon_production", "mastodon", "Mastodon-2", "prefer", "disable", "require", "verify-full", "no-verify",
	"5432", "6432", "0", "25", "true", "false", "plain", "login", "none", "peer", "auto", "always", "never",
	"/etc/ssl/certs/ca-certificates.crt", "smtp.example.org", "a@b", "a~b", "a=b", "a:b", "_x", "x.",
	// hostile
	"::1", "::ffff:127.0.0.1", "[::1]", "*x", "&a x", "!!binary eA==", "!ruby/object:Object {}", "{/x}", "[a, b]",
	"/var/run/postgresql #c", "a #b", "a: b", "a:", "- x", "? x", "|", ">", "%x", "@x", "`x`", "'x'", "\"x\"",
	"x,y", "yes", "No", "ON", "off", "y", "~", "null", "NULL", "-", "0123", "1_0", "1:30", "0x1f", "0b101", "+1", "-1",
	".5", "5.", "1.5", "1e3", ".inf", ".NaN", "2001-01-01", "2001-01-01 10:00:00", "1,000", "x y", " x", "x ",
	"x\ty", "ſ", "ｘ", "\u00a0x", "<<", "=", "==", "x\\y", "$x", "%{x}",
}

func template(name string) string { return fmt.Sprintf("k: <%%= ENV['%s'] %%>\n", name) }

// psychAgrees checks that Psych read v back as kind expects.
func psychAgrees(t testing.TB, got map[string]testenv.PsychValue, rerr, v string, kind mastodon.YAMLKind) {
	t.Helper()
	require.Empty(t, rerr, "accepted %q (%v) but Ruby's YAML fails", v, kind)
	want := map[mastodon.YAMLKind][]string{mastodon.YAMLString: {"String"}, mastodon.YAMLInt: {"Integer"}, mastodon.YAMLBool: {"TrueClass", "FalseClass"}}[kind]
	assert.Contains(t, want, got["k"].Class, "accepted %q (%v) but Ruby's YAML reads a %s", v, kind, got["k"].Class)
	assert.Equal(t, v, got["k"].S, "accepted %q (%v) but Ruby's YAML reads another value", v, kind)
}

// TestYAMLRuleAgainstPsych runs every value of the corpus, for each kind of slot, through
// ERB and Ruby's YAML as Rails loads config/database.yml: whatever the rule accepts reads
// back as the same text, integer or boolean.
func TestYAMLRuleAgainstPsych(t *testing.T) {
	t.Parallel()
	ps := testenv.StartPsych(t)
	refused, conservative := 0, 0
	for _, kind := range []mastodon.YAMLKind{mastodon.YAMLString, mastodon.YAMLInt, mastodon.YAMLBool} {
		for _, v := range yamlCorpus {
			got, rerr, err := ps.Read(template("X"), map[string]string{"X": v})
			require.NoError(t, err)
			if yamlRawProblem(v, kind) == "" {
				psychAgrees(t, got, rerr, v, kind)
				continue
			}
			refused++
			if kind == mastodon.YAMLString && rerr == "" && got["k"].Class == "String" && got["k"].S == v {
				conservative++ // Ruby would have read it right: refused to stay on the safe side
			}
		}
	}
	t.Logf("%d values refused, %d of them read right by Ruby (refused conservatively)", refused, conservative)
}

// TestYAMLValuesRefused is the sweep's classes through Validate: each is an error naming
// the variable and the YAML file, and Ruby's YAML indeed reads each as something else or
// fails.
func TestYAMLValuesRefused(t *testing.T) {
	t.Parallel()
	ps := testenv.StartPsych(t)
	base := reparse(t, newFile(t, "4.7", Config{}))
	cases := []struct {
		version, name, value string
		err                  error
	}{
		{"4.7", "DB_HOST", "*x", ErrYAMLValue},                     // Psych::BadAlias: Rails does not boot
		{"4.7", "DB_HOST", "/var/run/postgresql #c", ErrYAMLValue}, // reads /var/run/postgresql
		{"4.7", "DB_HOST", "{/x}", ErrYAMLValue},                   // a Hash
		{"4.7", "DB_USER", "&a x", ErrYAMLValue},                   // reads x
		{"4.7", "DB_NAME", "!!binary eA==", ErrYAMLValue},          // bytes
		{"4.7", "DB_SSLMODE", "yes", ErrYAMLValue},                 // true
		{"4.7", "DB_PORT", "05432", ErrYAMLValue},                  // octal: 2842
		{"4.7", "DB_PORT", "1:30", ErrYAMLValue},                   // sexagesimal: 5400
		{"4.7", "PREPARED_STATEMENTS", "off", ErrYAMLValue},        // works, but not as written
		{"4.2", "REPLICA_DB_HOST", "a: b", ErrYAMLValue},           // a mapping: syntax error
		{"4.4.0", "SMTP_PASSWORD", "p #ss", ErrYAMLValue},          // raw in 4.4.0 only: reads p
		{"4.7", "SMTP_AUTH_METHOD", "%x", ErrYAMLValue},
		{"4.7", "DB_HOST", "::1", ErrDBHostYAML},   // a Symbol, with its own fix
		{"3.4", "DB_PASS", "p: ss", ErrDBPassYAML}, // a mapping: Rails does not boot
	}
	for _, c := range cases {
		t.Run(c.version+"/"+c.name+"="+c.value, func(t *testing.T) {
			f := base.Clone()
			f.Set(c.name, c.value)
			var found *report.Problem
			for _, p := range f.Validate(Options{Release: mastodon.MustLookup(c.version)}) {
				if p.Severity == report.Error && errors.Is(p, c.err) {
					found = &p
				}
			}
			require.NotNil(t, found, "%s=%q is not refused", c.name, c.value)
			assert.Contains(t, found.Message, c.name)
			if mastodon.IsSecret(c.name) {
				assert.NotContains(t, found.Message, c.value, "a secret is never shown")
			}
			got, rerr, err := ps.Read(template(c.name), map[string]string{c.name: c.value})
			require.NoError(t, err)
			slot, ok := mastodon.MustLookup(c.version).YAMLSlot(c.name)
			require.True(t, ok)
			misread := rerr != "" || got["k"].S != c.value ||
				slot.Kind == mastodon.YAMLString && got["k"].Class != "String" ||
				slot.Kind == mastodon.YAMLBool && c.value != "true" && c.value != "false"
			assert.True(t, misread, "Ruby reads %q back unchanged as %s", c.value, got["k"].Class)
		})
	}
	// The same values pass where the release quotes them.
	f := base.Clone()
	f.Set("SMTP_PASSWORD", "p#ss")
	f.Set("DB_PASS", "p#ss")
	for _, p := range f.Validate(Options{Release: mastodon.MustLookup("4.4.1")}) {
		assert.NotErrorIs(t, p, ErrYAMLValue, p.Message)
		assert.NotErrorIs(t, p, ErrDBPassYAML, p.Message)
	}
}

// FuzzYAMLRule is differential: every value the rule accepts, for any kind of slot, must
// read back through ERB and Ruby's YAML as exactly that text, integer or boolean.
func FuzzYAMLRule(f *testing.F) {
	for _, v := range yamlCorpus {
		f.Add(v, uint8(0))
	}
	f.Add("5432", uint8(1))
	f.Add("true", uint8(2))
	ps := testenv.StartPsych(f)
	f.Fuzz(func(t *testing.T, v string, k uint8) {
		kind := mastodon.YAMLKind(k % 3)
		if v == "" || yamlRawProblem(v, kind) != "" {
			return
		}
		require.True(t, utf8.ValidString(v) && !strings.ContainsRune(v, 0), "the rule accepts only ASCII: %q", v)
		got, rerr, err := ps.Read(template("X"), map[string]string{"X": v})
		require.NoError(t, err)
		psychAgrees(t, got, rerr, v, kind)
	})
}
