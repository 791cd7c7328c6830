package envfile

import (
	"errors"
	"strings"

	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

var (
	// ErrSentinelLiteral: an IP literal in REDIS_SENTINELS (or its CACHE_/SIDEKIQ_ twins).
	ErrSentinelLiteral = errors.New("REDIS_SENTINELS is split on ':' by " + mastodon.RedisSentinelsParser + ": name each sentinel with a DNS name (an AAAA record), not an IP literal")
	// ErrReplica: REPLICA_* lines that do not route reads to a replica on this release.
	ErrReplica = errors.New("these REPLICA_* lines do not turn the read replica on for this Mastodon release")
)

// checkHA checks the scaling variables: sentinels given by IP literal (Mastodon's parser
// tears them apart), and REPLICA_* lines the release does not act on (before 4.2, or
// REPLICA_DB_HOST without REPLICA_DB_NAME on 4.2.0 … 4.5.3).
func (f *File) checkHA(ps *report.Problems, rel mastodon.Release) {
	for _, p := range []string{"", "CACHE_", "SIDEKIQ_"} {
		l, ok := f.Entry(p + "REDIS_SENTINELS")
		if !ok || l.Value == "" {
			continue
		}
		for _, e := range strings.Split(l.Value, ",") {
			// Read each entry as Mastodon does (the catalogue's splitter): only an entry it
			// tears apart is wrong. "10.0.0.5:26379" and "s1.example" come back whole;
			// "fd00::5" and "[fd00::5]:26379" do not.
			e = strings.TrimSpace(e)
			hosts, ports := mastodon.SplitSentinels(e, "")
			if len(hosts) != 1 || hosts[0] == e || hosts[0]+":"+ports[0] == e {
				continue
			}
			ps.Errorf(f.where(l), ErrSentinelLiteral, "%sREDIS_SENTINELS entry %q is an IPv6 literal, which Mastodon reads as host %q port %q: %v", p, e, hosts[0], ports[0], ErrSentinelLiteral)
		}
	}
	var replica []string
	for _, k := range f.Keys() {
		if strings.HasPrefix(k, "REPLICA_") {
			replica = append(replica, k)
		}
	}
	if len(replica) == 0 {
		return
	}
	get := func(k string) string { v, _ := f.Get(k); return v }
	where := f.where(mustEntry(f, replica[0]))
	switch {
	case !rel.ReplicaEnv():
		ps.Warnf(where, ErrReplica, "%s: Mastodon %s has no read replica settings (REPLICA_* arrived in 4.2.0; before, a replica needs the makara gem and a hand-edited config/database.yml)", strings.Join(replica, ", "), rel.Line())
	case !rel.ReplicaEnabled(get) && get("REPLICA_DB_HOST") != "":
		ps.Warnf(where, ErrReplica, "REPLICA_DB_HOST is set without REPLICA_DB_NAME or REPLICA_DATABASE_URL: Mastodon %s (4.2.0 … 4.5.3) then reads from the primary; add REPLICA_DB_NAME=%s", rel.Line(), orDefault(get("DB_NAME"), "mastodon_production"))
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
