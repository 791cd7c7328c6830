package sentinel_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/sentinel"
)

// TestFailoverByName runs two real Redis servers and three real sentinels on an
// IPv6-only LAN, everything named through the world's DNS (AAAA records only). A client
// built from the rendered REDIS_SENTINELS — parsed the way Mastodon parses it — writes
// continuously, each write acknowledged by WAIT 1; the master is killed; the sentinels
// promote the replica, the client writes again within a bound, and no acknowledged write
// is missing on the new master.
func TestFailoverByName(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.HATools(t, "redis-server", "redis-sentinel")
	w := testenv.NewWorld(t, testenv.WorldOptions{})
	prefix := netip.MustParsePrefix("fd6e:7465:7374:12::/64")
	a := func(s string) netip.Addr { return netip.MustParseAddr("fd6e:7465:7374:12::" + s) }
	names, err := w.AddLAN(prefix, a("31"), a("32"), a("33"), a("21"))
	require.NoError(t, err)
	host1, host2, host3, app := names[0], names[1], names[2], names[3]
	require.NoError(t, w.AddRecords("redis1 AAAA "+a("31").String(), "redis2 AAAA "+a("32").String(),
		"s1 AAAA "+a("31").String(), "s2 AAAA "+a("32").String(), "s3 AAAA "+a("33").String()))
	z := "." + w.Zone
	cfg := sentinel.Config{
		Release:          mastodon.MustLookup("4.4"),
		Redis:            []sentinel.Node{{"redis1" + z, a("31")}, {"redis2" + z, a("32")}},
		Sentinels:        []sentinel.Node{{"s1" + z, a("31")}, {"s2" + z, a("32")}, {"s3" + z, a("33")}},
		Password:         "redis-password-0123456789",
		SentinelPassword: "sentinel-password-0123456789",
		DownAfter:        time.Second, FailoverTimeout: 10 * time.Second,
	}
	dir := testenv.TempDir(t)
	overrides := "\ndaemonize no\nsupervised no\npidfile \"\"\nlogfile \"\"\nsave \"\"\nappendonly no\n"
	start := func(node, kind string, i int, conf []byte) *testenv.Daemon {
		d := filepath.Join(dir, fmt.Sprintf("%s%d", kind, i))
		require.NoError(t, os.Mkdir(d, 0o755))
		f := filepath.Join(d, kind+".conf")
		require.NoError(t, os.WriteFile(f, append(conf, []byte("dir "+d+overrides)...), 0o640))
		if kind == "sentinel" {
			return w.StartDaemon(t, node, "", syscall.SIGTERM, "redis-sentinel", f)
		}
		return w.StartDaemon(t, node, "", syscall.SIGTERM, "redis-server", f)
	}
	var redisD []*testenv.Daemon
	for i, node := range []string{host1, host2} {
		conf, err := cfg.RedisConf(i)
		require.NoError(t, err)
		redisD = append(redisD, start(node, "redis", i, conf))
	}
	var sentD []*testenv.Daemon
	for i, node := range []string{host1, host2, host3} {
		conf, err := cfg.SentinelConf(i)
		require.NoError(t, err)
		sentD = append(sentD, start(node, "sentinel", i, conf))
	}
	for i, d := range sentD {
		require.NoError(t, w.WaitDial(app, d, netip.AddrPortFrom(cfg.Sentinels[i].Addr, 26379).String(), 20*time.Second), d.LogText())
	}

	// The client is configured only from the rendered env, split as Mastodon splits it.
	env, ps := cfg.Env()
	require.NoError(t, ps.Err())
	get := map[string]string{}
	for _, e := range env {
		get[e.Key] = e.Value
	}
	hosts, ports := mastodon.SplitSentinels(get["REDIS_SENTINELS"], "26379")
	var addrs []string
	for i := range hosts {
		addrs = append(addrs, net.JoinHostPort(hosts[i], ports[i]))
	}
	require.Len(t, addrs, 3)
	dial := w.ResolvingDialer(app)
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: get["REDIS_SENTINEL_MASTER"], SentinelAddrs: addrs,
		SentinelPassword: get["REDIS_SENTINEL_PASSWORD"], Password: get["REDIS_PASSWORD"],
		Dialer: dial, DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		MaxRetries: -1, PoolSize: 4,
	})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()

	// Wait until every sentinel knows the other two and sees the replica linked: a
	// sentinel learns of replicas from the master's INFO (every 10 s), and the one
	// elected leader must know one or it aborts with -failover-abort-no-good-slave.
	var scs []*redis.SentinelClient
	for _, addr := range addrs {
		c := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: cfg.SentinelPassword, Dialer: dial})
		t.Cleanup(func() { c.Close() })
		scs = append(scs, c)
	}
	sc := scs[2]
	deadline := time.Now().Add(45 * time.Second)
	for i := 0; i < len(scs); {
		sentinels, err1 := scs[i].Sentinels(ctx, "mastodon").Result()
		replicas, err2 := scs[i].Replicas(ctx, "mastodon").Result()
		if err1 == nil && err2 == nil && len(sentinels) == 2 && len(replicas) == 1 &&
			replicas[0]["flags"] == "slave" && replicas[0]["master-link-status"] == "ok" &&
			strings.Contains(fmt.Sprint(replicas[0]), "redis2"+z) {
			i++
			continue
		}
		require.True(t, time.Now().Before(deadline), "sentinel %d never settled: %v %v %v %v\n%s", i, sentinels, replicas, err1, err2, sentD[i].LogText())
		time.Sleep(100 * time.Millisecond)
	}
	m, err := sc.GetMasterAddrByName(ctx, "mastodon").Result()
	require.NoError(t, err)
	require.Equal(t, "redis1"+z, m[0], "announce-hostnames: the master is known by name")

	// Writer: SET k, then WAIT 1 replica; only a write the replica acknowledged counts.
	var mu sync.Mutex
	acked := map[string]bool{}
	var killed, resumed time.Time
	writes, failures := 0, 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("status:%d", i)
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			err := client.Set(wctx, k, "toot", 0).Err()
			var n int64
			if err == nil {
				n, err = client.Do(wctx, "WAIT", 1, 200).Int64()
			}
			cancel()
			mu.Lock()
			writes++
			if err != nil {
				failures++
			} else {
				if n >= 1 {
					acked[k] = true
				}
				if !killed.IsZero() && resumed.IsZero() {
					resumed = time.Now()
				}
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	// Let the replica finish its first sync: wait for acknowledged writes, then a little more.
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 100 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the replica acknowledged %d writes in 20 s", n)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	redisD[0].Stop(syscall.SIGKILL) // the master dies without a word
	mu.Lock()
	before := len(acked)
	killed = time.Now() // once it is gone: a success from now on is the new master's
	mu.Unlock()
	require.Positive(t, before, "writes were acknowledged before the kill")

	for {
		mu.Lock()
		r := resumed
		mu.Unlock()
		if !r.IsZero() {
			break
		}
		require.True(t, time.Since(killed) < 30*time.Second, "no write succeeded within 30 s of the kill\n%s", sentD[0].LogText())
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	m, err = sc.GetMasterAddrByName(ctx, "mastodon").Result()
	require.NoError(t, err)
	require.Equal(t, "redis2"+z, m[0], "the replica was promoted")

	// No acknowledged write is lost: all are on the new master.
	var missing []string
	for k := range acked {
		if n, err := client.Exists(ctx, k).Result(); err != nil || n != 1 {
			missing = append(missing, k)
		}
	}
	t.Logf("failover: master killed, first write accepted again after %v (down-after %v); %d writes, %d failed during the failover, %d acknowledged by WAIT before the kill, all %d acknowledged writes present on redis2",
		resumed.Sub(killed).Round(time.Millisecond), cfg.DownAfter, writes, failures, before, len(acked))
	require.Empty(t, missing, "acknowledged writes lost")
	require.Less(t, resumed.Sub(killed), 20*time.Second)
}
