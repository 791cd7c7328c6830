package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

// TestYAMLValuesThroughTheCLI: the values the sweep found Rails misreading in
// config/database.yml are refused by v6-envgen (exit 1, DB_* named, no file), and the
// refusal is right: Ruby's YAML, fed through ERB as Rails does, reads each as something
// other than what was typed.
func TestYAMLValuesThroughTheCLI(t *testing.T) {
	t.Parallel()
	ps := testenv.StartPsych(t)
	cases := []struct{ flag, key, value string }{
		{"--db-host", "DB_HOST", "*x"},
		{"--db-host", "DB_HOST", "/var/run/postgresql #c"},
		{"--db-host", "DB_HOST", "{/x}"},
		{"--db-user", "DB_USER", "&a x"},
		{"--db-name", "DB_NAME", "!!binary eA=="},
		{"--db-name", "DB_NAME", "yes"},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), ".env.production")
		code, _, stderr := runCLI(t, "--domain", "social.example.org", "--out", out, c.flag, c.value)
		assert.Equal(t, 1, code, "%s %q: %s", c.flag, c.value, stderr)
		assert.Contains(t, stderr, c.key, "%s %q", c.flag, c.value)
		_, err := os.Stat(out)
		assert.True(t, os.IsNotExist(err), "%s %q: nothing written", c.flag, c.value)

		got, rerr, err := ps.Read("k: <%= ENV['"+c.key+"'] %>\n", map[string]string{c.key: c.value})
		require.NoError(t, err)
		assert.True(t, rerr != "" || got["k"].Class != "String" || got["k"].S != c.value, "Ruby reads %q unchanged", c.value)
	}
	// Hosts admins write pass, and Ruby reads them unchanged.
	for _, host := range []string{"/var/run/postgresql", "db.example.org", "fd00::10", "10.0.0.5"} {
		_, out := newSite(t, "--db-host", host)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Contains(t, string(b), "DB_HOST="+host)
		got, rerr, err := ps.Read("k: <%= ENV['DB_HOST'] %>\n", map[string]string{"DB_HOST": host})
		require.NoError(t, err)
		assert.Empty(t, rerr)
		assert.Equal(t, "String", got["k"].Class, host)
		assert.Equal(t, host, got["k"].S)
	}
}
