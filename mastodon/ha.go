package mastodon

import "strings"

// ---- Outgrowing one database and one front: replicas, PgBouncer, Sentinel, balancers ----
//
// Sources: config/database.yml, app/helpers/database_helper.rb, lib/mastodon/redis_config.rb
// (≤4.2), lib/mastodon/redis_configuration.rb (4.3+), streaming/redis.js, docs scaling.md and
// config.md, read at the tags named on each fact.

// ReplicaEnv reports whether a read replica can be configured through the environment:
// REPLICA_DB_HOST, _PORT, _NAME, _USER, _PASS (each falling back to its DB_* twin) and
// REPLICA_DATABASE_URL, from 4.2.0 (Rails' native multi-database, #25693, #26386). Before
// 4.2 a replica needs the makara gem and a hand-edited database.yml: there is no env route.
func (r Release) ReplicaEnv() bool { return r.AtLeast(4, 2, 0) }

// ReplicaPreparedStatements reports whether REPLICA_PREPARED_STATEMENTS is read (4.4.0+,
// #32908; it defaults to PREPARED_STATEMENTS). Earlier the replica uses PREPARED_STATEMENTS.
func (r Release) ReplicaPreparedStatements() bool { return r.AtLeast(4, 4, 0) }

// ReplicaDBTasks reports whether REPLICA_DB_TASKS is read (4.4.0+, #32908; default true:
// db:migrate also runs against the replica, which a streaming standby refuses).
func (r Release) ReplicaDBTasks() bool { return r.AtLeast(4, 4, 0) }

// ReplicaHostAloneIgnored reports the 4.2.0 … 4.5.3 gate: reads go to the replica only when
// REPLICA_DB_NAME or REPLICA_DATABASE_URL is set, so REPLICA_DB_HOST alone leaves the
// replica off. 4.2.0 gated ApplicationRecord's reading role on the two (#26074), 4.2.1
// moved the same test into DatabaseHelper.replica_enabled? (#27061), and 4.5.4 and 4.6.0
// added REPLICA_DB_HOST to it (#37240).
func (r Release) ReplicaHostAloneIgnored() bool {
	return r.AtLeast(4, 2, 0) && r.Version.Before(V(4, 5, 4))
}

// ReplicaEnabled reports whether this release routes reads to a replica given these
// .env.production values (get returns a variable's value, "" when unset), following the
// release's gate: none before 4.2.0, REPLICA_DB_NAME or REPLICA_DATABASE_URL from 4.2.0,
// REPLICA_DB_HOST too from 4.5.4.
func (r Release) ReplicaEnabled(get func(string) string) bool {
	if !r.ReplicaEnv() {
		return false
	}
	name, url, host := get("REPLICA_DB_NAME") != "", get("REPLICA_DATABASE_URL") != "", get("REPLICA_DB_HOST") != ""
	if r.ReplicaHostAloneIgnored() {
		return name || url
	}
	return name || url || host
}

// DefaultPgBouncerPort is PgBouncer's listen_port in Mastodon's scaling guide, 6432; the
// app then sets DB_PORT=6432 (all versions).
const DefaultPgBouncerPort = 6432

// DefaultPostgresPort is PostgreSQL's port, 5432: migrations connect here directly,
// bypassing PgBouncer (`DB_PORT=5432 … rails db:migrate`, docs scaling.md).
const DefaultPostgresPort = 5432

// PgBouncerNeedsPreparedStatementsOff reports that PgBouncer's transaction pooling needs
// PREPARED_STATEMENTS=false (read from 2.0.0, #1293; docs scaling.md): a prepared
// statement lives in one server connection, the next transaction may get another.
func (r Release) PgBouncerNeedsPreparedStatementsOff() bool { return r.AtLeast(2, 0, 0) }

// PgBouncerMigrateCommand is the migration command that bypasses PgBouncer (docs
// scaling.md): DDL and advisory locks need a session, which transaction pooling breaks.
func (r Release) PgBouncerMigrateCommand() string {
	return "RAILS_ENV=production DB_PORT=5432 bundle exec rails db:migrate"
}

// CacheRedis reports whether CACHE_REDIS_URL/_HOST/_PORT/_PASSWORD/_DB are read (2.4.0+, #7272).
func (r Release) CacheRedis() bool { return r.AtLeast(2, 4, 0) }

// SidekiqRedis reports whether SIDEKIQ_REDIS_URL/_HOST/_PORT/_PASSWORD/_DB are read (3.4.0+, #16188).
func (r Release) SidekiqRedis() bool { return r.AtLeast(3, 4, 0) }

// RedisSentinel reports whether Redis Sentinel is configurable: REDIS_SENTINELS (a comma
// list of host[:port]), REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PORT (default 26379),
// REDIS_SENTINEL_USERNAME and REDIS_SENTINEL_PASSWORD (4.3.0+, #31744, #31767, #31768,
// streaming #31623).
func (r Release) RedisSentinel() bool { return r.AtLeast(4, 3, 0) }

// RedisSentinelPrefixes are the prefixes Rails reads the sentinel variables with (4.3.0+):
// "" (the main Redis), "CACHE_" and "SIDEKIQ_". The streaming server reads only the
// unprefixed ones (streaming/redis.js).
func (r Release) RedisSentinelPrefixes() []string {
	if !r.RedisSentinel() {
		return nil
	}
	return []string{"", "CACHE_", "SIDEKIQ_"}
}

// DefaultRedisSentinelPort is REDIS_SENTINEL_PORT's default, 26379 (4.3.0+).
const DefaultRedisSentinelPort = 26379

// RedisSentinelsSplitOnColon reports Mastodon's REDIS_SENTINELS parser: Rails'
// parse_sentinels does entry.split(':') and streaming split(':', 2), so an IPv6 literal
// ("fd00::1" or "[fd00::1]:26379") is torn apart at its first colon (4.3.0+). Sentinels
// must be given by DNS name (an AAAA record) on an IPv6-only network.
func (r Release) RedisSentinelsSplitOnColon() bool { return r.RedisSentinel() }

// RedisSentinelsParser names the code that reads REDIS_SENTINELS, for error messages.
const RedisSentinelsParser = "lib/mastodon/redis_configuration.rb (parse_sentinels: split(':')) and streaming/redis.js (split(':', 2))"

// SplitSentinels parses REDIS_SENTINELS the way Mastodon does (4.3.0+): entries split on
// ',' (blanks kept: Mastodon does not trim them), each entry's host the text before its
// first ':' and its port the text between the first and the second ':' (Rails'
// split(':') and streaming's split(':', 2) keep only those two pieces), defaultPort when
// the entry has no ':'. An IPv6 literal comes out torn, as in Mastodon: "fd00::1" is host
// "fd00" with an empty port (Rails reads port 0). Empty entries are skipped (Mastodon
// makes host-less sentinels of them).
func SplitSentinels(value, defaultPort string) (hosts, ports []string) {
	for _, e := range strings.Split(value, ",") {
		if e == "" {
			continue
		}
		h, rest, ok := strings.Cut(e, ":")
		p := defaultPort
		if ok {
			p, _, _ = strings.Cut(rest, ":")
		}
		hosts, ports = append(hosts, h), append(ports, p)
	}
	return hosts, ports
}

// HealthPath is the web service's health check, answering 200 "OK" (3.0.0+; see HasHealth).
const HealthPath = "/health"

// StreamingHealthPath is the streaming server's health check, answering 200 "OK" (2.x+).
const StreamingHealthPath = "/api/v1/streaming/health"

// StreamingPingSeconds is how often the streaming server pings a websocket (30 s; an SSE
// stream gets a ":thump" heartbeat every 15 s), streaming/index.js@4.7.0: an idle timeout
// on any proxy between client and streaming must be longer.
const StreamingPingSeconds = 30

// DefaultTrustedProxies are the proxies Rails trusts for X-Forwarded-For when
// TRUSTED_PROXY_IP is unset: loopback, RFC 1918 and unique local IPv6 (all versions; docs
// config.md). Setting TRUSTED_PROXY_IP replaces the list, so a balancer on a global
// address must be listed together with these.
func (r Release) DefaultTrustedProxies() []string {
	return []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}
}
