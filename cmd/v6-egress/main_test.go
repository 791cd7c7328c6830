package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNAT64WritesBothTrees(t *testing.T) {
	out := t.TempDir()
	var so, se bytes.Buffer
	code := run([]string{"nat64", "--dns64", "2001:db8:1::1", "--clients", "2001:db8:1::/64", "--lan", "192.168.1.0/24", "--out", out}, &so, &se)
	require.Equal(t, 0, code, se.String())
	for _, f := range []string{"gateway/etc/tayga/v6kit-nat64.conf", "gateway/etc/nftables.d/v6kit-nat64.nft", "gateway/etc/unbound/unbound.conf.d/v6kit-dns64.conf",
		"gateway/etc/systemd/system/v6kit-nat64.service", "mastodon/etc/resolv.conf", "mastodon/env.production.fragment"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	env, err := os.ReadFile(filepath.Join(out, "mastodon/env.production.fragment"))
	require.NoError(t, err)
	assert.Contains(t, string(env), "ALLOWED_PRIVATE_ADDRESSES=64:ff9b::/96\n")
}

func TestProxyJSON(t *testing.T) {
	out := t.TempDir()
	var so, se bytes.Buffer
	code := run([]string{"proxy", "--url", "http://[2001:db8:1::3]:3128", "--clients", "2001:db8:1::/64", "--out", out, "--json", "--mastodon", "4.5"}, &so, &se)
	require.Equal(t, 0, code, se.String())
	var res result
	require.NoError(t, json.Unmarshal(so.Bytes(), &res))
	assert.Equal(t, "proxy", res.Path)
	assert.Equal(t, "4.5.15", res.Mastodon)
	assert.Equal(t, "http_proxy", res.Env[0].Key)
	assert.FileExists(t, filepath.Join(out, "gateway/etc/squid/squid.conf"))
}

func TestBadInputWritesNothing(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		code int
		want []string // in stderr: the flag, the value and the fix
	}{
		"prefix length": {[]string{"nat64", "--prefix", "64:ff9b::/80", "--dns64", "2001:db8:1::1", "--clients", "2001:db8:1::/64"}, 1,
			[]string{"--prefix: ", "64:ff9b::/80", "length 32, 40, 48, 56, 64 or 96", "e.g. 64:ff9b::/96", "nothing written"}},
		"prefix /97": {[]string{"nat64", "--prefix", "64:ff9b::/97", "--dns64", "2001:db8:1::1", "--clients", "2001:db8:1::/64"}, 1,
			[]string{"--prefix: ", "64:ff9b::/97", "RFC 6052", "nothing written"}},
		"unbracketed url": {[]string{"proxy", "--url", "http://2001:db8:1::3:3128", "--clients", "2001:db8:1::/64"}, 1,
			[]string{"--url: ", "http://2001:db8:1::3:3128", "needs brackets, e.g. http://[2001:db8:1::3]:3128", "nothing written"}},
		"empty allow": {[]string{"proxy", "--url", "http://[2001:db8:1::3]:3128"}, 1,
			[]string{"--clients: ", "clients is empty", "e.g. 2001:db8:1::/64", "nothing written"}},
		"empty allow value": {[]string{"proxy", "--url", "http://[2001:db8:1::3]:3128", "--clients", ""}, 2,
			[]string{"--clients", "empty value"}},
		"nat64 empty allow": {[]string{"nat64", "--dns64", "2001:db8:1::1"}, 1,
			[]string{"--clients: ", "clients is empty", "nothing written"}},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var so, se bytes.Buffer
			assert.Equal(t, c.code, run(append(c.args, "--out", out), &so, &se), se.String())
			for _, w := range c.want {
				assert.Contains(t, se.String(), w)
			}
			assert.Empty(t, so.String())
			assert.NoDirExists(t, out)
		})
	}
}

func TestUsage(t *testing.T) {
	var so, se bytes.Buffer
	assert.Equal(t, 2, run(nil, &so, &se))
	assert.Equal(t, 2, run([]string{"socks"}, &so, &se))
	assert.Equal(t, 2, run([]string{"nat64", "--clients", "nope"}, &so, &se))
	assert.Equal(t, 0, run([]string{"proxy", "-h"}, &so, &se))
}

func TestCheckAndStrict(t *testing.T) {
	var so, se bytes.Buffer
	args := []string{"nat64", "--prefix", "2001:db8:64::/96", "--dns64", "2001:db8:1::1", "--clients", "2001:db8:1::/64", "--permit", "203.0.113.0/24", "--check"}
	assert.Equal(t, 0, run(args, &so, &se), se.String())
	assert.Contains(t, so.String(), "valid")
	assert.Contains(t, se.String(), "permit[0]: warning")
	assert.Equal(t, 1, run(append(args, "--strict"), &so, &se))
}
