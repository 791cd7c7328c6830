// Package sentinel renders Redis replication under Redis Sentinel for Mastodon on an
// IPv6 network — the Redis nodes' replication settings, one sentinel.conf per sentinel —
// and the REDIS_SENTINEL* values of .env.production.
//
// It exists because Sentinel over IPv6 meets two parsers. Sentinel's own needs
// "sentinel resolve-hostnames yes" and "announce-hostnames yes" so nodes can be named
// instead of numbered; Mastodon's (4.3.0+) splits each REDIS_SENTINELS entry on ':', so an
// IPv6 literal there is torn apart ([mastodon.Release.RedisSentinelsSplitOnColon]): every
// node here is a DNS name (an AAAA record) with its address beside it for bind. [Config.Env]
// refuses releases before 4.3, and REDIS_NAMESPACE on 4.4+, which refuses to boot with it.
package sentinel

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// Sentinels, one per rule.
var (
	ErrLiteral   = errors.New("an IP literal where Mastodon needs a DNS name: REDIS_SENTINELS is split on ':' by " + mastodon.RedisSentinelsParser + ", so give each node a DNS name with an AAAA record")
	ErrName      = errors.New("invalid DNS name: use letters, digits, '-' and '.', e.g. redis1.example.net")
	ErrAddr      = errors.New("invalid address: give the node's unicast address without a zone")
	ErrTopology  = errors.New("invalid topology: Sentinel needs a master, at least one replica and three sentinels")
	ErrQuorum    = errors.New("invalid quorum: use 1..number of sentinels (zero: a majority)")
	ErrPassword  = errors.New("invalid password: use 16 or more printable ASCII characters without blanks, quotes, backslashes or URL delimiters (:/?#[]@%)")
	ErrMaster    = errors.New("invalid master name: use letters, digits, '_', '.' or '-'")
	ErrPort      = errors.New("invalid port: use 1-65535")
	ErrRelease   = errors.New("this Mastodon release cannot use Redis Sentinel: REDIS_SENTINELS arrived in 4.3.0; upgrade, or point REDIS_HOST at the master")
	ErrNamespace = errors.New("REDIS_NAMESPACE makes Mastodon 4.4+ refuse to boot: run mastodon/redis_namespace_migration, set ES_PREFIX to the old namespace, and drop the namespace")
	ErrPrefix    = errors.New("invalid prefix: use \"\" (REDIS_*), \"CACHE_\" or \"SIDEKIQ_\"")
)

// Node is one Redis server or sentinel: the DNS name everything refers to it by, and the
// address it binds.
type Node struct {
	// Name is the node's DNS name (an AAAA record for Addr). Never an IP literal.
	Name string
	// Addr is the address the node binds, next to ::1.
	Addr netip.Addr
}

// Config is a Redis master, its replicas and the sentinels watching them. Redis[0] is
// the master at first. Redis (two or more), Sentinels (three or more) and Password are
// required.
type Config struct {
	// Release is the target Mastodon release. Zero: mastodon.Newest().
	Release mastodon.Release
	// MasterName is the monitored master's name (REDIS_SENTINEL_MASTER). Zero: "mastodon".
	MasterName string
	// Redis are the Redis servers; the first starts as master.
	Redis []Node
	// Sentinels are the sentinels; put them on three hosts that fail independently.
	Sentinels []Node
	// Port is Redis' port. Zero: 6379.
	Port int
	// SentinelPort is the sentinels' port. Zero: 26379.
	SentinelPort int
	// Password is every Redis node's requirepass and masterauth (REDIS_PASSWORD).
	Password string
	// SentinelPassword is the sentinels' requirepass (REDIS_SENTINEL_PASSWORD). Empty:
	// sentinels without authentication.
	SentinelPassword string
	// Quorum is how many sentinels must agree the master is down. Zero: a majority.
	Quorum int
	// DownAfter is down-after-milliseconds. Zero: 5 s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout. Zero: 60 s.
	FailoverTimeout time.Duration
	// Prefixes are the Mastodon Redis roles that go through Sentinel: "" (REDIS_*, the
	// one the streaming server reads), "CACHE_", "SIDEKIQ_". Zero: [""].
	Prefixes []string
	// Namespace is REDIS_NAMESPACE, kept from an old install (read up to 4.3; 4.4+
	// refuses to boot with it). Empty: none.
	Namespace string
}

func (c Config) release() mastodon.Release {
	return c.Release.OrNewest()
}

func (c Config) master() string { return orS(c.MasterName, "mastodon") }
func (c Config) port() int      { return or(c.Port, mastodon.DefaultRedisPort) }
func (c Config) sport() int     { return or(c.SentinelPort, mastodon.DefaultRedisSentinelPort) }
func (c Config) quorum() int {
	if c.Quorum == 0 {
		return len(c.Sentinels)/2 + 1
	}
	return c.Quorum
}
func (c Config) downAfter() time.Duration { return orD(c.DownAfter, 5*time.Second) }
func (c Config) failover() time.Duration  { return orD(c.FailoverTimeout, 60*time.Second) }
func (c Config) prefixes() []string {
	if len(c.Prefixes) == 0 {
		return []string{""}
	}
	return c.Prefixes
}

func or(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orS(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func orD(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

var (
	hostRE   = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)
	masterRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

func checkNode(ps *report.Problems, path string, n Node) {
	name := strings.TrimSuffix(strings.TrimPrefix(n.Name, "["), "]")
	if i := strings.LastIndex(name, "%"); i >= 0 {
		name = name[:i]
	}
	if a, err := netip.ParseAddr(name); err == nil || strings.Contains(n.Name, ":") {
		if err != nil {
			a = netip.IPv6Unspecified()
		}
		bad(ps, path+".name", ErrLiteral, "%q is an IP%s literal", n.Name, map[bool]string{true: "v6", false: "v4"}[a.Is6()])
	} else if !hostRE.MatchString(n.Name) || len(n.Name) > 253 {
		bad(ps, path+".name", ErrName, "%q", n.Name)
	}
	if a := n.Addr; !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.Is4In6() || a.IsLoopback() {
		bad(ps, path+".addr", ErrAddr, "%q: give the address other hosts reach it at", n.Addr)
	}
}

func checkPassword(ps *report.Problems, path, pw string, required bool) {
	switch {
	case pw == "" && !required:
	case strings.ContainsFunc(pw, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'\`+":/?#[]@%", r) }):
		bad(ps, path, ErrPassword, "the password holds a blank, quote, backslash, URL delimiter or non-ASCII character")
	case len(pw) < 16:
		bad(ps, path, ErrPassword, "the password has %d characters", len(pw))
	}
}

// Validate reports every problem at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	if len(c.Redis) < 2 {
		bad(&ps, "redis", ErrTopology, "%d Redis node(s): add a replica to fail over to", len(c.Redis))
	}
	if len(c.Sentinels) < 3 {
		bad(&ps, "sentinels", ErrTopology, "%d sentinel(s): three on independent hosts keep a majority when one host fails", len(c.Sentinels))
	}
	names := map[string]string{}
	for kind, nodes := range map[string][]Node{"redis": c.Redis, "sentinels": c.Sentinels} {
		for i, n := range nodes {
			path := fmt.Sprintf("%s[%d]", kind, i)
			checkNode(&ps, path, n)
			key := strings.ToLower(strings.TrimSuffix(n.Name, "."))
			if prev, dup := names[kind+key]; dup {
				bad(&ps, path+".name", ErrName, "%q is also %s", n.Name, prev)
			}
			names[kind+key] = path
		}
	}
	if q := c.Quorum; q < 0 || q > len(c.Sentinels) {
		bad(&ps, "quorum", ErrQuorum, "%d of %d sentinels", q, len(c.Sentinels))
	}
	for path, v := range map[string]int{"port": c.Port, "sentinel_port": c.SentinelPort} {
		if v < 0 || v > 65535 {
			bad(&ps, path, ErrPort, "%d", v)
		}
	}
	if !masterRE.MatchString(c.master()) {
		bad(&ps, "master_name", ErrMaster, "%q", c.MasterName)
	}
	checkPassword(&ps, "password", c.Password, true)
	checkPassword(&ps, "sentinel_password", c.SentinelPassword, false)
	if c.DownAfter < 0 || (c.DownAfter > 0 && c.DownAfter < 100*time.Millisecond) || c.FailoverTimeout < 0 {
		bad(&ps, "down_after", ErrTopology, "down_after %v and failover_timeout %v must be zero (the defaults) or at least 100ms", c.DownAfter, c.FailoverTimeout)
	}
	for i, p := range c.Prefixes {
		if !slices.Contains([]string{"", "CACHE_", "SIDEKIQ_"}, p) || slices.Contains(c.Prefixes[:i], p) {
			bad(&ps, fmt.Sprintf("prefixes[%d]", i), ErrPrefix, "%q", p)
		}
	}
	if strings.ContainsFunc(c.Namespace, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'\#`, r) }) {
		bad(&ps, "namespace", ErrNamespace, "%q holds blanks, quotes or control characters", c.Namespace)
	}
	return ps.Sorted()
}

func header(b *bytes.Buffer, what string) {
	fmt.Fprintf(b, "# %s, generated by v6kit sentinel.\n", what)
}

// RedisConf renders Redis node i's settings: bind ::1 and its address, auth, and
// replication (announcing its DNS name, so sentinels and clients see names). Redis[0]
// starts as master; the others replicate it. It holds the password: write it 0640.
func (c Config) RedisConf(i int) ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	if i < 0 || i >= len(c.Redis) {
		return nil, fmt.Errorf("sentinel: no Redis node %d", i)
	}
	n := c.Redis[i]
	var b bytes.Buffer
	header(&b, "Redis under Sentinel")
	fmt.Fprintf(&b, "bind ::1 %s\nport %d\nprotected-mode yes\n", n.Addr, c.port())
	fmt.Fprintf(&b, "requirepass %s\n# Any node may become a replica after a failover, so every node knows the master's password.\nmasterauth %s\n", c.Password, c.Password)
	fmt.Fprintf(&b, "replica-announce-ip %s\n", n.Name)
	if i > 0 {
		fmt.Fprintf(&b, "replicaof %s %d\n", c.Redis[0].Name, c.port())
	}
	b.WriteString("replica-read-only yes\n")
	return b.Bytes(), nil
}

// SentinelConf renders sentinel i's sentinel.conf. Sentinel rewrites this file with what
// it learns, so install it writable by Redis' user (0640), and render it only once.
func (c Config) SentinelConf(i int) ([]byte, error) {
	if err := c.Validate().Err(); err != nil {
		return nil, err
	}
	if i < 0 || i >= len(c.Sentinels) {
		return nil, fmt.Errorf("sentinel: no sentinel %d", i)
	}
	n := c.Sentinels[i]
	m := c.master()
	var b bytes.Buffer
	header(&b, "Redis Sentinel for Mastodon")
	fmt.Fprintf(&b, "bind ::1 %s\nport %d\nprotected-mode no\n", n.Addr, c.sport())
	b.WriteString("# Names, not addresses: Mastodon's REDIS_SENTINELS cannot carry IPv6 literals.\n")
	b.WriteString("sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n")
	fmt.Fprintf(&b, "sentinel announce-ip %s\n", n.Name)
	if c.SentinelPassword != "" {
		b.WriteString("# Sentinels use this password for each other too.\n")
		fmt.Fprintf(&b, "requirepass %s\n", c.SentinelPassword)
	}
	fmt.Fprintf(&b, "sentinel monitor %s %s %d %d\n", m, c.Redis[0].Name, c.port(), c.quorum())
	fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", m, c.Password)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", m, c.downAfter().Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", m, c.failover().Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", m)
	return b.Bytes(), nil
}

// EnvVar is one .env.production entry; envfile.Var(e) converts it.
type EnvVar struct {
	Key, Value string
}

// Env returns, for each prefix, REDIS_SENTINELS (name:port, comma-separated),
// REDIS_SENTINEL_MASTER, REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD (when set), and
// REDIS_NAMESPACE where kept and allowed. Before 4.3.0 it is [ErrRelease]; a namespace on
// 4.4+ is [ErrNamespace]. Without the "" prefix it warns: the streaming server reads only
// the unprefixed variables.
func (c Config) Env() ([]EnvVar, report.Problems) {
	ps := c.Validate()
	if ps.HasErrors() {
		return nil, ps
	}
	rel := c.release()
	if !rel.RedisSentinel() {
		bad(&ps, "release", ErrRelease, "Mastodon %s", rel)
		return nil, ps
	}
	if c.Namespace != "" && rel.RedisNamespaceFatal() {
		bad(&ps, "namespace", ErrNamespace, "REDIS_NAMESPACE=%s with Mastodon %s", c.Namespace, rel)
		return nil, ps
	}
	if !slices.Contains(c.prefixes(), "") {
		ps.Warnf("prefixes", ErrPrefix, "the streaming server reads only REDIS_SENTINELS (no CACHE_/SIDEKIQ_ variants): add the \"\" prefix or give streaming REDIS_HOST")
	}
	list := make([]string, len(c.Sentinels))
	for i, s := range c.Sentinels {
		list[i] = s.Name + ":" + strconv.Itoa(c.sport())
	}
	var env []EnvVar
	for _, p := range c.prefixes() {
		env = append(env, EnvVar{p + "REDIS_SENTINELS", strings.Join(list, ",")},
			EnvVar{p + "REDIS_SENTINEL_MASTER", c.master()}, EnvVar{p + "REDIS_PASSWORD", c.Password})
		if c.SentinelPassword != "" {
			env = append(env, EnvVar{p + "REDIS_SENTINEL_PASSWORD", c.SentinelPassword})
		}
	}
	if c.Namespace != "" {
		env = append(env, EnvVar{"REDIS_NAMESPACE", c.Namespace})
	}
	return env, ps
}

// bad adds an error whose message ends with the rule's fix (the sentinel's text).
func bad(ps *report.Problems, path string, sentinel error, format string, args ...any) {
	ps.Errorf(path, sentinel, "%s: %v", fmt.Sprintf(format, args...), sentinel)
}
