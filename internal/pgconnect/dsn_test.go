package pgconnect

import (
	"os/user"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	require.NoError(t, err)
	for _, c := range []struct {
		dsn  string
		want Params
	}{
		{"host=/var/run/postgresql user=postgres", Params{Host: "/var/run/postgresql", User: "postgres"}},
		{"", Params{Host: DefaultSocketDir, User: me.Username}},
		{" host = ::1  port=5433 user=mastodon password='it''s' ", Params{}}, // '' is no escape: refused below
		{`host=::1 port=5433 user=mastodon password='it\'s a \\ secret' dbname=mastodon_production sslmode=verify-full sslrootcert=/etc/ssl/ca.pem connect_timeout=10 application_name=v6kit`,
			Params{Host: "::1", Port: 5433, User: "mastodon", Password: `it's a \ secret`, Database: "mastodon_production",
				SSLMode: SSLVerifyFull, SSLRootCert: "/etc/ssl/ca.pem", ConnectTimeout: 10 * time.Second, ApplicationName: "v6kit"}},
		{`user=a\ b password=x\'y database=db`, Params{Host: DefaultSocketDir, User: "a b", Password: "x'y", Database: "db"}},
		{"postgres://mastodon:p%40ss%3Aw@[::1]:5433/mastodon_production?sslmode=disable&application_name=x",
			Params{Host: "::1", Port: 5433, User: "mastodon", Password: "p@ss:w", Database: "mastodon_production", SSLMode: SSLDisable, ApplicationName: "x"}},
		{"postgresql://postgres@%2Fvar%2Frun%2Fpostgresql:5433/postgres", Params{Host: "/var/run/postgresql", Port: 5433, User: "postgres", Database: "postgres"}},
		{"postgres://postgres@127.0.0.1/", Params{Host: "127.0.0.1", User: "postgres"}},
		{"postgres:///db?host=/tmp&user=u", Params{Host: "/tmp", User: "u", Database: "db"}},
		{"postgres://u@[fe80::1%25eth0]/db", Params{Host: "fe80::1%eth0", User: "u", Database: "db"}},
	} {
		p, err := ParseDSN(c.dsn)
		if c.want.Host == "" {
			require.Error(t, err, c.dsn)
			continue
		}
		require.NoError(t, err, c.dsn)
		assert.Equal(t, c.want, p, c.dsn)
		back, err := ParseDSN(p.dsn(false))
		require.NoError(t, err)
		assert.Equal(t, p, back, "round trip of %q", c.dsn)
	}
}

func TestParseDSNRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ dsn, want string }{
		{"host=::1 user=u service=prod", `key "service" is not supported`},
		{"host=::1 user=u passfile=/root/.pgpass", `key "passfile" is not supported`},
		{"host=::1 user=u options='-c statement_timeout=1'", `key "options" is not supported`},
		{"host=::1 user=u target_session_attrs=read-only", `"target_session_attrs" is not supported`},
		{"postgres://u@h/db?service=x", `"service" is not supported`},
		{"host=::1,127.0.0.1 user=u", "several hosts"},
		{"postgres://u@h1,h2/db", "several hosts"},
		{"host=::1 port=99999 user=u", `port "99999"`},
		{"host=::1 port=0 user=u", `port "0"`},
		{"host=::1 user=u connect_timeout=-1", "whole seconds"},
		{"host=::1 user=u sslmode=on", `sslmode "on"`},
		{"host=::1 user u", `missing "="`},
		{"host=::1 =u", `"=" without a key`},
		{"host=::1 user=u password='s3cret", "no closing quote"},
		{"host=::1 user=u user=v", "given twice"},
		{"postgres://u@h/db?sslmode=disable&sslmode=require", "given 2 times"},
		{"postgres://u:s3cret@[::1/db", "can't be parsed"},
		{"postgres://u:s3cret@h/db?a=%zz", "query"},
		{"host=run/pg user=u", "neither an absolute socket directory"},
		{"host=::1 user=u password='a\nb'", "control character"},
		{"host=::1 user=u sslcert=/c", "both or neither"},
	} {
		_, err := ParseDSN(c.dsn)
		require.ErrorIs(t, err, ErrInvalid, c.dsn)
		assert.Contains(t, err.Error(), c.want, c.dsn)
		assert.NotContains(t, err.Error(), "s3cret", "errors never quote the password")
	}
}

func TestParamsStringMasksPassword(t *testing.T) {
	t.Parallel()
	p := Params{Host: "::1", User: "u", Password: "s3cret'"}
	assert.Equal(t, `host='::1' user='u' password='xxxxx'`, p.String())
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"host=/var/run/postgresql user=postgres", `host=::1 password='a\'b' dbname=x`,
		"postgres://u:p@[::1]:5432/db?sslmode=disable", "postgresql://u@%2Ftmp/db", "user=\\", "a='", "postgres://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseDSN(s)
		if err != nil {
			return
		}
		require.NoError(t, p.Check())
		back, err := ParseDSN(p.dsn(false))
		require.NoError(t, err, "%q → %q", s, p.dsn(false))
		require.Equal(t, p, back)
		_, err = p.Config()
		if err != nil {
			// only files named in the DSN may fail (unreadable sslrootcert, sslcert …)
			require.True(t, p.SSLRootCert != "" || p.SSLCert != "", "%v", err)
		}
	})
}

func BenchmarkConfig(b *testing.B) {
	p, err := ParseDSN("host=::1 port=5432 user=mastodon password=secret dbname=mastodon_production sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Config(); err != nil {
			b.Fatal(err)
		}
	}
}
