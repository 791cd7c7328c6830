package mastodon

import (
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookupResolvesForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"4.5": "4.5.15", "v4.5.2": "4.5.2", "4.5.2": "4.5.2", "1.6": "1.6.1", "4.7.0-beta.1": "4.7.0", "v2.9": "2.9.4",
	} {
		r, err := Lookup(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, r.String(), in)
	}
	for _, bad := range []string{"", "4", "four", "4.5.x", "4..5", "4.05", "1.2.3.4"} {
		_, err := Lookup(bad)
		assert.ErrorIs(t, err, ErrBadVersion, bad)
	}
	for _, unknown := range []string{"1.5", "4.8", "5.0", "0.9"} {
		_, err := Lookup(unknown)
		assert.ErrorIs(t, err, ErrUnknownVersion, unknown)
	}
	assert.Equal(t, "4.7.0", Newest().String())
	assert.True(t, Newest().IsNewest())
}

// TestLookupRefusesWhitespaceAndControls: "--mastodon '4.7\n'" is not 4.7. A version
// with surrounding whitespace or a control character anywhere (also in a prerelease
// suffix, which is otherwise ignored) is ErrBadVersion, from Lookup and UnmarshalText.
func TestLookupRefusesWhitespaceAndControls(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"4.7\n", "4.7\r", "\t4.7", " 4.7", "4.7 ", " v2.9 ", "4.7\r\n", "4.7.0-beta\n", "4.7.0-\x00", "4.7.0-\x7f", "4.7.0-a b", "4.7\u00a0", "4.7\u2028", "\ufeff4.7"} {
		_, err := Lookup(bad)
		require.ErrorIs(t, err, ErrBadVersion, "%q", bad)
		assert.Contains(t, err.Error(), "whitespace or control", "%q", bad)
		var r Release
		assert.ErrorIs(t, r.UnmarshalText([]byte(bad)), ErrBadVersion, "%q", bad)
		assert.Equal(t, Release{}, r, "%q", bad)
	}
}

func TestSecretsPerVersion(t *testing.T) {
	t.Parallel()
	names := func(v string) []string {
		var out []string
		for _, s := range MustLookup(v).Secrets() {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Equal(t, []string{"SECRET_KEY_BASE", "OTP_SECRET", "PAPERCLIP_SECRET", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}, names("1.6"))
	assert.Equal(t, []string{"SECRET_KEY_BASE", "OTP_SECRET", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}, names("3.5"))
	assert.Equal(t, []string{"SECRET_KEY_BASE", "OTP_SECRET", "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY", "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}, names("4.3"))
	assert.NotContains(t, names("4.4"), "OTP_SECRET")
	s, ok := MustLookup("4.7").SecretByName("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY")
	require.True(t, ok)
	assert.True(t, s.Destructive)
	assert.Contains(t, s.Loss, "signing key")
}

func TestRemovedAndRequired(t *testing.T) {
	t.Parallel()
	rm, ok := MustLookup("4.4").Removed("REDIS_NAMESPACE")
	require.True(t, ok)
	assert.True(t, rm.Fatal)
	_, ok = MustLookup("4.3").Removed("REDIS_NAMESPACE")
	assert.False(t, ok)
	rm, ok = MustLookup("2.3").Removed("PAPERCLIP_SECRET")
	require.True(t, ok)
	assert.False(t, rm.Fatal)
	rm, ok = MustLookup("4.4").Removed("OTP_SECRET")
	require.True(t, ok)
	assert.Contains(t, rm.Reason, "migration")
	assert.False(t, MustLookup("4.2").Reads("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"))
	assert.True(t, MustLookup("4.3").Reads("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"))
	assert.True(t, MustLookup("4.2").Reads("REPLICA_DB_HOST") || MustLookup("4.2").Reads("REPLICA_DATABASE_URL"))
	assert.Contains(t, MustLookup("4.3").Required(), "OTP_SECRET")
	assert.NotContains(t, MustLookup("4.4").Required(), "OTP_SECRET")
	assert.True(t, IsSecret("DB_PASS"))
	assert.False(t, IsSecret("LOCAL_DOMAIN"))
}

func TestQueuesAndBinds(t *testing.T) {
	t.Parallel()
	assert.False(t, MustLookup("1.6").HasQueue("scheduler"))
	assert.True(t, MustLookup("3.5").HasQueue("scheduler"))
	assert.True(t, MustLookup("4.0").HasQueue("ingress"))
	assert.True(t, MustLookup("4.4").HasQueue("fasp"))
	r := MustLookup("4.2")
	assert.Equal(t, "[::]", r.FormatBind("web", "::"))
	assert.Equal(t, "::", r.FormatBind("streaming", "[::]"))
	assert.Equal(t, "127.0.0.1", r.FormatBind("web", "127.0.0.1"))
	// One loopback per family: ::1 on an IPv6-only host once puma reads BIND (2.9.3),
	// 127.0.0.1 before (puma listens on 0.0.0.0) and on every dual-stack host.
	for v, want := range map[string]string{"1.6": "127.0.0.1", "2.9.2": "127.0.0.1", "2.9.3": "::1", "4.2": "::1", "4.7": "::1"} {
		assert.Equal(t, want, MustLookup(v).LoopbackBind(true).String(), v)
		assert.Equal(t, "127.0.0.1", MustLookup(v).LoopbackBind(false).String(), v)
	}
	assert.Equal(t, "[::1]", MustLookup("4.2").FormatBind("web", MustLookup("4.2").LoopbackBind(true).String()))
	assert.Equal(t, "::1", MustLookup("4.2").FormatBind("streaming", MustLookup("4.2").LoopbackBind(true).String()))
	assert.True(t, MustLookup("4.2").StreamingTemplated())
	assert.False(t, MustLookup("4.1").StreamingTemplated())
	assert.Equal(t, 14, MustLookup("4.7").MinPostgres())
	assert.Equal(t, 10, MustLookup("4.2").MinPostgres())
	assert.Equal(t, 9, MustLookup("4.2.3").MinPostgres())
	assert.Equal(t, HardeningFull, MustLookup("3.5").DistHardening())
	assert.Contains(t, MustLookup("4.7").OwnerCommand("alice", "a@example.org"), "--role Owner")
	for v, want := range map[string]bool{"1.6": true, "2.6": true, "2.7": false, "3.5": false, "4.5": false, "4.6": true, "4.7": true} {
		assert.Equal(t, want, MustLookup(v).ReadsEtcHosts(), v)
	}
}

// FuzzLookup: whatever Lookup accepts has no whitespace or control character, and its
// release prints as a version Lookup reads back to the same release (UnmarshalText too).
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"4.7", "v4.5.2", "4.7.0-beta.1", "1.6", "4.7\n", " 4.7", "4.7.0-\x00", "\ufeff4.7", "4.05", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Lookup(s)
		if err != nil {
			return
		}
		for _, c := range s {
			if unicode.IsSpace(c) || unicode.IsControl(c) || !unicode.IsPrint(c) {
				t.Fatalf("Lookup(%q) accepted %q", s, c)
			}
		}
		back, err := Lookup(r.String())
		require.NoError(t, err)
		require.Equal(t, r, back)
		var u Release
		require.NoError(t, u.UnmarshalText([]byte(s)))
		require.Equal(t, r, u)
	})
}
