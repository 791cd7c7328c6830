package acme_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/testenv"
)

// env is one Pebble plus a store directory and a config that trusts it.
type env struct {
	p    *testenv.Pebble
	root string
	cfg  acme.Config
}

func newEnv(t *testing.T, opt testenv.PebbleOptions) *env {
	t.Helper()
	p := testenv.StartPebble(t, opt)
	root := testenv.TempDir(t)
	cfg := acme.Config{
		Root:      root,
		Server:    p.DirURL,
		CACertPEM: p.CAPEM,
		Challenge: acme.Challenge{Listen: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(p.HTTPPort))},
		Timeout:   90 * time.Second,
		Profile:   "default",
	}
	return &env{p: p, root: root, cfg: cfg}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestObtainHTTP01BuiltinOverIPv6(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.PebbleOptions{})
	c, err := acme.New(e.cfg)
	require.NoError(t, err)
	rep, err := c.Obtain(ctxT(t), acme.Request{Names: []string{"social.test", "media.social.test"}})
	require.NoError(t, err, "%+v", rep)
	require.Len(t, rep.Outcomes, 1)
	require.Equal(t, acme.Issued, rep.Outcomes[0].Action)
	l, err := c.Store().Load("social.test")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"social.test", "media.social.test"}, l.Names)
}
