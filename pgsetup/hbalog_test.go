package pgsetup

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLogPrefix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		prefix, line string
		pid          int
		msg          string
	}{
		{DefaultLogLinePrefix, "2026-11-27 04:18:06.963 UTC [29024] LOG:  connection received: host=::1 port=40572", 29024, "connection received: host=::1 port=40572"},
		{"%m [%p] %q%u@%d ", "2026-11-27 04:18:06.969 UTC [29024] mastodon@postgres FATAL:  password authentication failed", 29024, "password authentication failed"},
		{"%m [%p] %q%u@%d ", "2026-11-27 04:18:06.969 UTC [29024] [unknown]@[unknown] LOG:  connection received: host=[local]", 29024, "connection received: host=[local]"},
		{"%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", "2026-11-27 04:18:06 UTC [77]: [1-1] user=,db=,app=[unknown],client=::1 LOG:  x", 77, "x"},
		{"%-8p|", "123     |DETAIL:  y", 123, "y"},
		{"%c %% ", "6566a1b2.1f4 % LOG:  z", 500, "z"},
		{"<%a> %p ", "<app [1] LOG:  fake> 42 LOG:  real", 42, "real"},
	} {
		lp, err := parseLogPrefix(c.prefix)
		require.NoError(t, err, c.prefix)
		pid, _, msg, ok := lp.parse(c.line)
		require.True(t, ok, "%q on %q", c.prefix, c.line)
		assert.Equal(t, c.pid, pid, c.prefix)
		assert.Equal(t, c.msg, msg, c.prefix)
	}
	for _, p := range []string{"", "%m ", "%t [%u] "} {
		_, err := parseLogPrefix(p)
		require.Error(t, err, p)
		assert.Contains(t, err.Error(), "%p")
	}
}

// concurrentLog is a PostgreSQL 15 log (default log_line_prefix) of two roles logging
// in at once over ::1, 127.0.0.1 and the socket, lines interleaved as the server wrote them.
const concurrentLog = `2026-11-27 04:18:06.963 UTC [201] LOG:  connection received: host=::1 port=40572
2026-11-27 04:18:06.964 UTC [202] LOG:  connection received: host=::1 port=40580
2026-11-27 04:18:06.965 UTC [203] LOG:  connection received: host=[local]
2026-11-27 04:18:06.966 UTC [204] LOG:  connection received: host=[local]
2026-11-27 04:18:06.969 UTC [202] FATAL:  password authentication failed for user "mastodon"
2026-11-27 04:18:06.969 UTC [202] DETAIL:  Connection matched pg_hba.conf line 5: "host all mastodon ::1/128 scram-sha-256"
2026-11-27 04:18:06.970 UTC [201] FATAL:  password authentication failed for user "other"
2026-11-27 04:18:06.970 UTC [201] DETAIL:  Connection matched pg_hba.conf line 4: "host all other ::1/128 scram-sha-256"
2026-11-27 04:18:06.971 UTC [204] FATAL:  password authentication failed for user "other"
2026-11-27 04:18:06.971 UTC [204] DETAIL:  Connection matched pg_hba.conf line 2: "local all other scram-sha-256"
2026-11-27 04:18:06.972 UTC [203] FATAL:  password authentication failed for user "mastodon"
2026-11-27 04:18:06.972 UTC [203] DETAIL:  Connection matched pg_hba.conf line 3: "local all mastodon scram-sha-256 map=x"
2026-11-27 04:18:06.995 UTC [205] LOG:  connection received: host=127.0.0.1 port=46346
2026-11-27 04:18:06.996 UTC [205] FATAL:  pg_hba.conf rejects connection for host "127.0.0.1", user "mastodon", database "postgres", no encryption
2026-11-27 04:18:07.021 UTC [206] LOG:  connection received: host=127.0.0.1 port=46360
2026-11-27 04:18:07.022 UTC [206] FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "mastodon", database "postgres", no encryption
2026-11-27 04:18:07.047 UTC [207] LOG:  connection received: host=[local]
2026-11-27 04:18:07.047 UTC [207] LOG:  connection authenticated: identity="root" method=peer (/tmp/pgx/data/pg_hba.conf:6)
2026-11-27 04:18:07.047 UTC [207] LOG:  provided user name (other) and authenticated user name (root) do not match
2026-11-27 04:18:07.047 UTC [207] FATAL:  Peer authentication failed for user "other"
2026-11-27 04:18:07.047 UTC [207] DETAIL:  Connection matched pg_hba.conf line 6: "local all other peer"
2026-11-27 04:18:07.103 UTC [208] LOG:  connection received: host=::1 port=40574
2026-11-27 04:18:07.109 UTC [208] LOG:  connection authenticated: identity="mastodon" method=scram-sha-256 (/tmp/pgx/data/pg_hba.conf:5)
2026-11-27 04:18:07.109 UTC [208] LOG:  connection authorized: user=mastodon database=postgres application_name=v6kit-verify-1a2b
2026-11-27 04:18:07.150 UTC [209] LOG:  v6kit-verify-mark-0011
2026-11-27 04:18:07.151 UTC [210] LOG:  connection received: host=[local]
2026-11-27 04:18:07.152 UTC [210] FATAL:  password authentication failed for user "mastodon"
2026-11-27 04:18:07.152 UTC [210] DETAIL:  Connection matched pg_hba.conf line 9: "local all mastodon scram-sha-256"
`

func TestAttribute(t *testing.T) {
	t.Parallel()
	lp, err := parseLogPrefix(DefaultLogLinePrefix)
	require.NoError(t, err)
	tcp := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.IPv6Loopback(), port) }
	v4 := func(port uint16) netip.AddrPort { return netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port)) }
	for _, c := range []struct {
		name   string
		marker string
		a      attempt
		line   int
		method string
		done   bool
		why    string
	}{
		{"tcp failure by port, not the other role's later line", "", attempt{client: tcp(40580), role: "mastodon", reached: true}, 5, "scram-sha-256", true, ""},
		{"other role's tcp failure", "", attempt{client: tcp(40572), role: "other", reached: true}, 4, "scram-sha-256", true, ""},
		{"success by pid", "", attempt{ok: true, pid: 208, client: tcp(40574), reached: true}, 5, "scram-sha-256", true, ""},
		{"reject names no line", "", attempt{client: v4(46346), role: "mastodon", reached: true}, 0, "", true, "reject line matched"},
		{"no entry", "", attempt{client: v4(46360), role: "mastodon", reached: true}, 0, "", true, "no pg_hba.conf line matches"},
		{"port of another family", "", attempt{client: tcp(46346), role: "mastodon", reached: true}, 0, "", false, "does not show this login"},
		{"socket failure: one of the role before the marker", "v6kit-verify-mark-0011", attempt{socket: true, role: "mastodon", reached: true}, 3, "scram-sha-256", true, ""},
		{"socket failure without a marker: later failures of the role make it ambiguous", "", attempt{socket: true, role: "mastodon", reached: true}, 0, "", true, "2 socket logins"},
		{"socket peer failure: authenticated line then matched line", "v6kit-verify-mark-0011", attempt{socket: true, role: "other", reached: true}, 0, "", true, "2 socket logins"},
		{"success without an authenticated line before the marker", "v6kit-verify-mark-0011", attempt{ok: true, pid: 999, reached: true}, 0, "", true, "names no pg_hba.conf line"},
		{"never reached", "", attempt{role: "mastodon"}, 0, "", true, "did not reach"},
	} {
		v := scanLogLines(strings.NewReader(concurrentLog), lp, c.marker)
		r := v.attribute(c.a)
		assert.Equal(t, c.line, r.line, c.name)
		assert.Equal(t, c.method, r.method, c.name)
		assert.Equal(t, c.done, r.done, c.name)
		if c.why == "" {
			assert.Empty(t, r.why, c.name)
		} else {
			assert.Contains(t, r.why, c.why, c.name)
		}
	}
	// Without a marker, even a single socket failure of the role in the log so far is
	// not certain: this login's own lines may still be on their way.
	before, _, _ := strings.Cut(concurrentLog, "[209]")
	r := scanLogLines(strings.NewReader(before), lp, "").attribute(attempt{socket: true, role: "mastodon", reached: true})
	assert.Zero(t, r.line)
	assert.False(t, r.done)
	assert.Contains(t, r.why, "no client port")

	// Two socket failures of the role before the marker: unknown, never the wrong one.
	log := strings.Replace(concurrentLog, `[204] FATAL:  password authentication failed for user "other"`, `[204] FATAL:  password authentication failed for user "mastodon"`, 1)
	r = scanLogLines(strings.NewReader(log), lp, "v6kit-verify-mark-0011").attribute(attempt{socket: true, role: "mastodon", reached: true})
	assert.Zero(t, r.line)
	assert.True(t, r.done)
	assert.Contains(t, r.why, `2 socket logins as "mastodon" failed at the same time`)
}

func TestRuleMethod(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "scram-sha-256", ruleMethod("host all mastodon ::1/128 scram-sha-256"))
	assert.Equal(t, "peer", ruleMethod("local all mastodon peer map=x"))
	assert.Equal(t, "md5", ruleMethod(`host "all" all 10.0.0.0 255.0.0.0 md5`))
	assert.Equal(t, "", ruleMethod("x=y"))
}

// FuzzLogPrefix: any log_line_prefix gives a pattern or an error, never a panic, and a
// line rendered with it (one PID escape) gives back the PID and the message.
func FuzzLogPrefix(f *testing.F) {
	for _, s := range []string{DefaultLogLinePrefix, "%m [%p] %q%u@%d ", "%t [%p]: [%l-1] user=%u,db=%d ", "%-10p|", "%c ", "%", "%%p", "[%p"} {
		f.Add(s, 4242)
	}
	f.Fuzz(func(t *testing.T, prefix string, pid int) {
		lp, err := parseLogPrefix(prefix)
		if err != nil || pid <= 0 || pid > 1<<22 || strings.ContainsAny(prefix, "\r\n") {
			return
		}
		var b strings.Builder
		pids := 0
		for i := 0; i < len(prefix); i++ {
			if prefix[i] != '%' {
				b.WriteByte(prefix[i])
				continue
			}
			i++
			for i < len(prefix) && (prefix[i] == '-' || prefix[i] >= '0' && prefix[i] <= '9') {
				i++
			}
			if i == len(prefix) {
				break
			}
			switch prefix[i] {
			case 'p':
				pids++
				b.WriteString(fmt.Sprint(pid))
			case 'c':
				pids++
				fmt.Fprintf(&b, "6566a1b2.%x", pid)
			case '%':
				b.WriteByte('%')
			case 'q':
			default:
				if strings.IndexByte("aubdrhlsvxetmniQ", prefix[i]) >= 0 {
					b.WriteString("x")
				}
			}
		}
		b.WriteString("LOG:  connection received: host=[local]")
		got, sev, msg, ok := lp.parse(b.String())
		if pids > 1 {
			return // several PID escapes (%p%c, %c%c) can be split more than one way
		}
		require.True(t, ok, "%q", b.String())
		require.Equal(t, pid, got, "%q", b.String())
		require.Equal(t, "LOG", sev)
		require.Equal(t, "connection received: host=[local]", msg)
	})
}
