package pgsetup

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/golden"
	"github.com/v6kit/v6kit/internal/pgconnect"
	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/report"
)

// listenFromComment reads a case's first comment line: "noipv4" and "addr=ADDR" words.
func listenFromComment(t *testing.T, comment string) Listen {
	t.Helper()
	var l Listen
	first, _, _ := strings.Cut(comment, "\n")
	for _, f := range strings.Fields(first) {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "noipv4":
			l.NoIPv4 = true
		case "addr":
			l.Addrs = append(l.Addrs, netip.MustParseAddr(v))
		}
	}
	return l
}

// TestGoldenListen renders each testdata/listen/*.txtar case and checks the snippet
// with the real postgres binary: `postgres -C listen_addresses` reads back the value.
func TestGoldenListen(t *testing.T) {
	t.Parallel()
	files := golden.Files(t, "testdata/listen/*.txtar")
	require.Len(t, files, 3)
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			ar := golden.Open(t, name)
			l := listenFromComment(t, ar.Comment())
			snippet, err := l.Snippet()
			require.NoError(t, err)
			ar.Check(t, golden.Section{Name: "want/listen.conf", Data: string(snippet)})
			v, err := l.Value()
			require.NoError(t, err)
			got, err := testenv.PostgresConfCheck(t, snippet, "listen_addresses")
			require.NoError(t, err)
			assert.Equal(t, v, got)
		})
	}
}

func TestListenValues(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	for _, c := range []struct {
		l    Listen
		want string
	}{
		{Listen{}, "127.0.0.1,::1"},
		{Listen{NoIPv4: true}, "::1"},
		{Listen{NoIPv4: true, Addrs: []netip.Addr{a("fd00:db::5")}}, "::1,fd00:db::5"},
		{Listen{Addrs: []netip.Addr{a("fd00:db::5"), a("192.0.2.5")}}, "127.0.0.1,::1,fd00:db::5,192.0.2.5"},
		{Listen{Addrs: []netip.Addr{a("::1")}}, "127.0.0.1,::1"},
	} {
		got, err := c.l.Value()
		require.NoError(t, err, "%+v", c.l)
		assert.Equal(t, c.want, got, "%+v", c.l)
	}
}

func TestListenRejectsBadInput(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	for _, c := range []struct {
		addrs   []netip.Addr
		sev     report.Severity
		path    string
		mention string
	}{
		{[]netip.Addr{{}}, report.Error, "addrs[0]", "invalid"},
		{[]netip.Addr{a("fe80::1%eth0")}, report.Error, "addrs[0]", "zone"},
		{[]netip.Addr{a("fe80::1")}, report.Error, "addrs[0]", "link-local"}, // bind: Invalid argument without a scope
		{[]netip.Addr{a("::ffff:192.0.2.5")}, report.Error, "addrs[0]", "write 192.0.2.5"},
		{[]netip.Addr{a("ff02::1")}, report.Error, "addrs[0]", "multicast"},
		{[]netip.Addr{a("fd00:db::5"), a("fd00:db::5")}, report.Error, "addrs[1]", "twice"},
		{[]netip.Addr{a("::")}, report.Warning, "addrs[0]", "only guard"},
		{[]netip.Addr{a("127.0.0.1")}, report.Info, "addrs[0]", "always"},
	} {
		ps := Listen{Addrs: c.addrs}.Validate()
		require.Len(t, ps, 1, "%v", c.addrs)
		p := ps[0]
		assert.Equal(t, c.sev, p.Severity, "%v", c.addrs)
		assert.Equal(t, c.path, p.Path)
		assert.Contains(t, p.Message, c.mention)
		if c.sev == report.Error {
			assert.ErrorIs(t, p, ErrListen)
			_, err := Listen{Addrs: c.addrs}.Snippet()
			require.ErrorIs(t, err, ErrListen)
		}
	}
}

// TestListenServes starts a real PostgreSQL with an IPv6-only host's listen_addresses:
// it accepts over ::1 and refuses 127.0.0.1, which Debian's 'localhost' might have been.
func TestListenServes(t *testing.T) {
	t.Parallel()
	v, err := Listen{NoIPv4: true}.Value()
	require.NoError(t, err)
	pg := testenv.StartPostgres(t, "listen_addresses="+v)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got string
	require.NoError(t, pg.Conn(t).QueryRow(ctx, "SHOW listen_addresses").Scan(&got))
	assert.Equal(t, "::1", got)
	connect := func(host string) error {
		cfg, err := pgconnect.Params{Host: host, Port: uint16(pg.Port), User: "postgres", Password: testenv.PostgresSuperPassword,
			SSLMode: pgconnect.SSLDisable, ConnectTimeout: 30 * time.Second}.Config()
		require.NoError(t, err)
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	}
	require.NoError(t, connect("::1"))
	err = connect("127.0.0.1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")
}
