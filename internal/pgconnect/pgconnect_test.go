package pgconnect

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDialFunc(t *testing.T) {
	t.Parallel()
	called := false
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		called = true
		return nil, fmt.Errorf("dial %s %s refused by test", network, addr)
	}
	cfg, err := Params{Host: "::1", Port: 1, User: "u", SSLMode: SSLDisable, DialFunc: dial}.Config()
	require.NoError(t, err)
	_, err = pgx.ConnectConfig(context.Background(), cfg)
	require.Error(t, err)
	assert.True(t, called)
	assert.Contains(t, err.Error(), "dial tcp [::1]:1 refused by test")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    Params
		want string
	}{
		{Params{User: "u"}, "no host"},
		{Params{Host: "::1"}, "no user"},
		{Params{Host: "a,b", User: "u"}, "several hosts"},
		{Params{Host: "relative/dir", User: "u"}, "neither an absolute socket directory"},
		{Params{Host: "::1", User: "u", SSLMode: "on"}, `sslmode "on"`},
		{Params{Host: "::1", User: "u", SSLCert: "c"}, "both or neither"},
		{Params{Host: "::1", User: "u", Password: "a\x00b"}, "password holds a control character"},
		{Params{Host: "::1", User: "u\nv"}, "user holds a control character"},
		{Params{Host: "::1", User: "u", ConnectTimeout: -time.Second}, "negative"},
	} {
		err := c.p.Check()
		require.ErrorIs(t, err, ErrInvalid, c.want)
		assert.Contains(t, err.Error(), c.want)
		_, err = c.p.Config()
		assert.ErrorIs(t, err, ErrInvalid)
	}
	require.NoError(t, Params{Host: "fe80::1%eth0", User: "u"}.Check())
	require.NoError(t, Params{Host: "db-1.example.org", User: "u"}.Check())
}
