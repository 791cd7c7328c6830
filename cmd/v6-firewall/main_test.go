package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/testenv"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestStdoutBothArtifacts(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--ssh-from", "2001:db8:a::/48", "--app", "fd6e:7465:7374:10::/64",
		"--router-host", "2001:db8::10", "--router-tunnel", "6", "--router-existing", "4000-4099")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "table inet v6kit {\n")
	assert.Contains(t, out, `ip6 saddr fd6e:7465:7374:10::/64 tcp dport 5432 accept comment "postgresql"`)
	assert.Contains(t, out, "ipv6 filter 40011 pass * 2001:db8::10 tcp * 443\n")
	assert.Contains(t, out, "tunnel select 6\nipv6 tunnel secure filter in 40000 ")
}

func TestService(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI("--ssh-from", "off", "--family", "dual", "--service", "http3:443/udp:any", "--service", "metrics:9100,9187:fd00:1::/64,198.51.100.0/28")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, `udp dport 443 accept comment "http3"`)
	assert.Contains(t, out, `ip6 saddr fd00:1::/64 tcp dport { 9100, 9187 } accept comment "metrics"`)
	assert.Contains(t, out, `ip saddr 198.51.100.0/28 tcp dport { 9100, 9187 } accept comment "metrics"`)
	assert.NotContains(t, out, "dport 22")
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--bogus"}, {"extra"}, {"--family", "v4only"}, {"--diff"}, {"--app", "nonsense"},
		{"--service", "x:80"}, {"--service", "x:0:any"}, {"--ssh-port", "70000"}, {"--router-numbers", "5-1"},
		{"--ssh-from", "any", "--router-out", "x.rtx"}, {"--router-host", "host.example"},
	} {
		code, _, _ := runCLI(args...)
		assert.Equal(t, 2, code, "%q", args)
	}
	code, out, errs := runCLI("-h")
	assert.Equal(t, 0, code, "-h: help, not a run")
	assert.Contains(t, out, "usage: v6-firewall")
	assert.Empty(t, errs)
}

func TestBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"services[1].from[0]": {"--ssh-from", "2001:db8:a::/48", "--app", "::/0"},
		"services[3].from[0]": {"--ssh-from", "2001:db8:a::/48", "--family", "dual", "--app", "0.0.0.0/0"},
		"services[1].public":  {"--ssh-from", "2001:db8:a::/48", "--service", "pg:5432:any"},
		"--ssh-from":          {},
		"--router-numbers":    {"--ssh-from", "any", "--router-host", "2001:db8::10", "--router-numbers", "4000-4099", "--router-existing", "4050-4060"},
	}
	for field, args := range cases {
		dir := t.TempDir()
		out, rout := filepath.Join(dir, "fw.nft"), filepath.Join(dir, "fw.rtx")
		args = append(args, "--out", out)
		if strings.HasPrefix(field, "--router") {
			args = append(args, "--router-out", rout)
		}
		code, stdout, errs := runCLI(args...)
		assert.Equal(t, 1, code, field)
		assert.Contains(t, errs, "v6-firewall: "+field+": ", field)
		assert.Empty(t, stdout, field)
		ents, _ := os.ReadDir(dir)
		assert.Empty(t, ents, "nothing written for %s", field)
	}
}

func TestWriteDiffAndJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, rout := filepath.Join(dir, "etc", "nftables.d", "mastodon.nft"), filepath.Join(dir, "router.rtx")
	args := []string{"--ssh-from", "2001:db8:a::/48", "--router-host", "2001:db8::10", "--out", out, "--router-out", rout}
	code, _, errs := runCLI(args...)
	require.Equal(t, 2, code, "--out's directory must exist")
	assert.Contains(t, errs, "create it first")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	code, stdout, errs := runCLI(args...)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, out+": written\n"+rout+": written\n", stdout)
	b, err := os.ReadFile(rout)
	require.NoError(t, err)
	_, err = firewall.ParseACL(bytes.NewReader(b))
	require.NoError(t, err)

	code, stdout, _ = runCLI(append(args, "--diff")...)
	require.Equal(t, 0, code)
	assert.Empty(t, stdout, "no change")

	code, stdout, _ = runCLI("--ssh-from", "2001:db8:b::/48", "--router-host", "2001:db8::10", "--out", out, "--router-out", rout, "--diff", "--json")
	require.Equal(t, 1, code, "--diff: something would change")
	var res result
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.True(t, res.Changed)
	assert.Contains(t, res.Diff, "-\t\tip6 saddr 2001:db8:a::/48 tcp dport 22 accept")
	assert.Contains(t, res.Diff, "+ipv6 filter 40012 pass 2001:db8:b::/48 2001:db8::10 tcp * 22")
	b2, _ := os.ReadFile(rout)
	assert.Equal(t, b, b2, "--diff writes nothing")

	code, stdout, _ = runCLI("--ssh-from", "::/0", "--json")
	assert.Equal(t, 0, code, "SSH from ::/0 is a warning (only internal ports are refused)")
	var loose struct {
		Problems []struct{ Path, Severity string }
		Ruleset  string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &loose))
	assert.Contains(t, loose.Ruleset, "ip6 saddr ::/0 tcp dport 22 accept")
	require.Len(t, loose.Problems, 1)
	assert.Equal(t, "--ssh-from", loose.Problems[0].Path)
	assert.Equal(t, "warning", loose.Problems[0].Severity)
	code, _, errs = runCLI("--ssh-from", "::/0", "--strict")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "v6-firewall: --ssh-from: warning: ::/0 lets everyone")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.Tool(t, "nft", "nftables")
	code, stdout, errs := runCLI("--ssh-from", "2001:db8:a::/48", "--family", "dual", "--app", "fd00:1::/64", "--check")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "nft -c: the ruleset is valid\n", stdout)
}

// FuzzParseService: the --service parser never panics, and a service it reads
// renders when valid.
func FuzzParseService(f *testing.F) {
	for _, s := range []string{"http3:443/udp:any", "metrics:9100,9187:fd00:1::/64,198.51.100.0/28", "x:0:any", "a:b:c", "pg:5432:::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := parseService(v)
		if err != nil {
			return
		}
		c := firewall.Config{Family: firewall.DualStack, Services: []firewall.Service{s}, SSH: firewall.SSH{Off: true}}
		if c.Validate().Err() != nil {
			return
		}
		if _, err := c.Bytes(); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Ports {
			if firewall.Internal(p) != "" && s.Public {
				t.Fatalf("%q: internal port %d made public", v, p)
			}
		}
	})
}
