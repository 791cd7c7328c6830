package mastodon

// ---- Data stores: facts pgsetup and redisconf need (see also MinPostgres, Redis*) -----

// SetupDatabase is the database Mastodon's setup connects to before its own exists: the
// mastodon:setup wizard's connection test (2.3.0+) and `rails db:setup`, which creates
// DB_NAME from there. pg_hba rules for the Mastodon role must let it reach this database
// too, and the role needs CREATEDB (all versions; docs: "create role mastodon with CREATEDB").
const SetupDatabase = "postgres"

// DefaultDBName is DB_NAME's production default, mastodon_production (all versions).
const DefaultDBName = "mastodon_production"

// DefaultDBUser is DB_USER's production default, mastodon (all versions).
const DefaultDBUser = "mastodon"

// DefaultRedisPort is REDIS_PORT's default, 6379 (all versions).
const DefaultRedisPort = 6379

// RedisURLUnixSocket reports whether REDIS_URL=unix:///path reaches Redis from both Rails
// (redis-rb, all bundled versions) and streaming ("REDIS_URL if set (unix:// supported)",
// all versions): the one Redis spelling that avoids IPv6 parsing everywhere.
func (r Release) RedisURLUnixSocket() bool { return true }

// RedisURLOverridesParts reports whether a set REDIS_URL makes Rails and streaming ignore
// REDIS_HOST/PORT/PASSWORD/DB (all versions: ≤4.2 redis_config.rb builds REDIS_URL only
// when unset; 4.3+ redis_configuration.rb returns the URL as is), so a password must be
// carried inside the URL when REDIS_URL is used.
func (r Release) RedisURLOverridesParts() bool { return true }

// RedisPasswordRawURL reports whether Rails builds its Redis URL by pasting REDIS_PASSWORD
// unescaped into "redis://:PASSWORD@HOST:PORT/DB" (lib/mastodon/redis_config.rb, up to 4.2.x;
// mastodon.md §1.5 "Redis"), so that a password holding a URL delimiter (: / ? # [ ] @ %)
// makes Rails parse another host, port or database, or fail to boot. 4.3.0 replaced the file
// with redis_configuration.rb, which passes the parts to the client.
func (r Release) RedisPasswordRawURL() bool { return r.Version.Before(V(4, 3, 0)) }
