package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/network"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ca := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(ca, []byte("not pem"), 0o644))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{}, "--domain: domain is required"},
		{[]string{"--domain", "https://social.example.org/"}, `--domain: "https://social.example.org/" is not a valid DNS name`},
		{[]string{"--domain", "social.example.org", "--resolver", "dns.example"}, "--resolver: resolver must be an IP address"},
		{[]string{"--domain", "social.example.org", "--timeout", "0s"}, "--timeout: timeout must be greater than zero"},
		{[]string{"--domain", "social.example.org", "--family", "v4only"}, "for --family: \"v4only\": an IPv4-only host is not supported here"},
		{[]string{"--domain", "social.example.org", "--ca-cert", ca}, "holds no PEM certificate"},
		{[]string{"--domain", "social.example.org", "--mastodon", "9.9"}, "--mastodon:"},
		{[]string{"--domain", "social.example.org", "--allowed-private-addresses", "64:ff9b::"}, "is not a prefix"},
		{[]string{"--domain", "social.example.org", "--web-bind", "3000"}, "--web-bind"},
		{[]string{"--domain", "social.example.org", "extra"}, "unexpected argument"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		code, out, errs := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errs)
		assert.Empty(t, out)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}

// nxdomainServer answers NXDOMAIN to everything, on [::1].
func nxdomainServer(t *testing.T) string {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestReportOutput(t *testing.T) {
	t.Parallel()
	res := nxdomainServer(t)
	code, out, errs := runCLI("--domain", "social.example.org", "--resolver", res, "--timeout", "20s")
	require.Equal(t, 1, code, errs)
	assert.Contains(t, out, "FAIL: ")
	assert.Contains(t, out, "NXDOMAIN: social.example.org does not exist in DNS")
	assert.Contains(t, out, "hint: create the name social.example.org")

	code, out, errs = runCLI("--domain", "social.example.org", "--resolver", res, "--json", "--family", "dual")
	require.Equal(t, 1, code, errs)
	var rep network.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, network.DualStack, rep.Family)
	c, ok := rep.Find("dns.aaaa.local")
	require.True(t, ok)
	assert.Equal(t, network.Fail, c.State)
	assert.Equal(t, "NXDOMAIN", c.Values["rcode"])
	assert.False(t, rep.OK())
}

func TestStreamingTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const tok = "sEcReTtOkEn23456789abcdefghijklmnopqrstuvwx"
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	open := write("open", tok+"\n", 0o644)
	code, out, errs := runCLI("--domain", "social.example.org", "--streaming-token-file", open)
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "--streaming-token-file: ")
	assert.Contains(t, errs, open+" has mode 0644, so others may read the token; run chmod 600 "+open)
	assert.NotContains(t, errs, tok)

	spaced := write("spaced", tok+" "+tok, 0o600)
	code, _, errs = runCLI("--domain", "social.example.org", "--streaming-token-file", spaced)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, spaced+" has a character an access token never has")
	assert.NotContains(t, errs, tok)

	code, _, errs = runCLI("--domain", "social.example.org", "--streaming-token-file", filepath.Join(dir, "missing"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, filepath.Join(dir, "missing"))

	// a good file is accepted (the probe runs: exit 1 on the NXDOMAIN site, not 2) and the
	// token appears in neither report
	good := write("good", tok+"\n", 0o400)
	res := nxdomainServer(t)
	for _, format := range [][]string{nil, {"--json"}} {
		args := append([]string{"--domain", "social.example.org", "--resolver", res, "--streaming-token-file", good, "--timeout", "20s"}, format...)
		code, out, errs = runCLI(args...)
		assert.Equal(t, 1, code, errs)
		assert.Contains(t, out, "dns.aaaa.local")
		assert.NotContains(t, out+errs, tok)
	}
}
