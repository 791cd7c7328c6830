package network

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/v6kit/v6kit/mastodon"
)

// TestRedisHint: the hint's bind and .env.production spelling follow the site's family
// and what the Mastodon release can read.
func TestRedisHint(t *testing.T) {
	t.Parallel()
	o := Options{Family: DualStack, RedisPort: 6379, Release: mastodon.MustLookup("4.5")}
	assert.Equal(t, "make Redis listen on ::1: bind 127.0.0.1 -::1 in redis.conf, and REDIS_URL=redis://[::1]:6379/0 in .env.production",
		redisHint(o, netip.IPv6Loopback()))
	assert.Contains(t, redisHint(o, netip.MustParseAddr("127.0.0.1")), "REDIS_HOST=127.0.0.1 and REDIS_PORT=6379")
	o.Release = mastodon.MustLookup("4.1")
	assert.Contains(t, redisHint(o, netip.IPv6Loopback()), "REDIS_HOST=127.0.0.1 (Mastodon 4.1")
}
