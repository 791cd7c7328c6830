package mastodon_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/mastodon"
)

func TestReplicaGate(t *testing.T) {
	hostOnly := func(k string) string {
		if k == "REPLICA_DB_HOST" {
			return "fd00::12"
		}
		return ""
	}
	named := func(k string) string {
		if k == "REPLICA_DB_NAME" {
			return "mastodon_production"
		}
		return ""
	}
	for rel, want := range map[string][2]bool{
		"4.1":   {false, false},
		"4.2.0": {false, true}, // reading: REPLICA_DB_NAME || REPLICA_DATABASE_URL ? :replica : :primary
		"4.2.1": {false, true},
		"4.5.3": {false, true},
		"4.5.4": {true, true},
		"4.6":   {true, true},
	} {
		r := mastodon.MustLookup(rel)
		assert.Equal(t, want[0], r.ReplicaEnabled(hostOnly), "%s host only", rel)
		assert.Equal(t, want[1], r.ReplicaEnabled(named), "%s with name", rel)
	}
	assert.False(t, mastodon.MustLookup("4.3").ReplicaPreparedStatements())
	assert.True(t, mastodon.MustLookup("4.4").ReplicaDBTasks())
	assert.False(t, mastodon.MustLookup("3.3").SidekiqRedis())
	assert.True(t, mastodon.MustLookup("2.4").CacheRedis())
	assert.False(t, mastodon.MustLookup("4.2").RedisSentinel())
	assert.Equal(t, []string{"", "CACHE_", "SIDEKIQ_"}, mastodon.MustLookup("4.3").RedisSentinelPrefixes())
}

func TestSplitSentinels(t *testing.T) {
	h, p := mastodon.SplitSentinels("s1.example:26380, s2.example ,fd00::1,[fd00::2]:26379,s4:1:2", "26379")
	assert.Equal(t, []string{"s1.example", " s2.example ", "fd00", "[fd00", "s4"}, h, "blanks kept, as Mastodon keeps them")
	// Ruby: "fd00::1".split(':') is ["fd00", "", "1"], port "".to_i == 0; streaming's
	// split(':', 2) is ["fd00", ""]; "[fd00::2]:26379" gives host "[fd00" and port "".
	assert.Equal(t, []string{"26380", "26379", "", "", "1"}, p, "an IPv6 literal is torn at its first colon, as in Mastodon")
}

// FuzzSplitSentinels: the parser never panics, pairs hosts with ports, and a list of
// names without colons round-trips.
func FuzzSplitSentinels(f *testing.F) {
	for _, s := range []string{"s1.example:26380,s2.example", "fd00::1", "[fd00::1]:26379", " , ,", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, ports := mastodon.SplitSentinels(s, "26379")
		if len(hosts) != len(ports) {
			t.Fatalf("%d hosts, %d ports", len(hosts), len(ports))
		}
		for i, h := range hosts {
			if strings.Contains(h, ":") || strings.Contains(h, ",") || strings.ContainsAny(ports[i], ":,") {
				t.Fatalf("entry %d: host %q port %q", i, h, ports[i])
			}
		}
	})
}
