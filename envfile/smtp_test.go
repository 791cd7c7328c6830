package envfile

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVarsRefuseBadSMTP (issue 20): Config.Vars, which every writer of SMTP settings goes
// through (v6-envgen, bundle), refuses an SMTP relay that is no host name nor IP literal
// and a from address that is no e-mail address, at its key, once; a control character is
// the value check's one problem; the usual forms pass.
func TestVarsRefuseBadSMTP(t *testing.T) {
	for _, c := range []struct {
		smtp SMTP
		key  string
		n    int // problems wrapping ErrSMTP
	}{
		{SMTP{Server: "a b"}, "SMTP_SERVER", 1},
		{SMTP{Server: "smtp://relay.example.org"}, "SMTP_SERVER", 1},
		{SMTP{Server: "-relay"}, "SMTP_SERVER", 1},
		{SMTP{Server: "relay\nx"}, "SMTP_SERVER", 0},
		{SMTP{FromAddress: "x"}, "SMTP_FROM_ADDRESS", 1},
		{SMTP{FromAddress: "Mastodon notifications@example.org"}, "SMTP_FROM_ADDRESS", 1},
		{SMTP{FromAddress: "x\x00y@example.org"}, "SMTP_FROM_ADDRESS", 0},
	} {
		_, ps := Config{SMTP: c.smtp}.Vars()
		var smtp, at int
		for _, p := range ps.Errors() {
			if errors.Is(p, ErrSMTP) {
				smtp++
			}
			if p.Path == c.key {
				at++
			}
		}
		assert.Equal(t, c.n, smtp, "%+v: %v", c.smtp, ps)
		assert.Equal(t, 1, at, "%+v: one problem at %s: %v", c.smtp, c.key, ps)
	}
	for _, s := range []SMTP{{Server: "localhost"}, {Server: "LOCALHOST"}, {Server: "::1"}, {Server: "192.0.2.25"},
		{Server: "relay.example.org", FromAddress: "Mastodon <notifications@example.org>"}, {FromAddress: "notifications@example.org"}} {
		_, ps := Config{SMTP: s}.Vars()
		assert.Empty(t, ps.Errors(), "%+v", s)
	}
}
