package acme

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/internal/testenv"
)

func TestPollHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	d, ok := parseRetryAfter("3", now)
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, d)
	d, ok = parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now)
	require.True(t, ok)
	assert.Equal(t, 90*time.Second, d)
	_, ok = parseRetryAfter("soon", now)
	assert.False(t, ok)

	// Back-off from 50 ms: the CA's Retry-After wins when longer, in full (no cap:
	// polling before it would be polling faster than the CA allows).
	assert.Equal(t, 50*time.Millisecond, nextPoll(50*time.Millisecond, 0))
	assert.Equal(t, 3*time.Second, nextPoll(50*time.Millisecond, 3*time.Second))
	assert.Equal(t, time.Hour, nextPoll(50*time.Millisecond, time.Hour))
	// A Retry-After past the order's deadline fails at once instead of polling early.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := pollWait(ctx, time.Minute)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "the CA asked to poll again in 1m0s")
	assert.Less(t, time.Since(start), 500*time.Millisecond)
	i := DefaultPollInterval
	var waits []time.Duration
	for range 10 {
		waits = append(waits, i)
		i = growPoll(i)
	}
	assert.Equal(t, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, waits[:4])
	assert.Equal(t, MaxPollInterval, waits[9])
}

func TestBuiltinServerIPv6Only(t *testing.T) {
	t.Parallel()
	// A port free on both families (and kept from other tests), then listen IPv6-only on [::]:port.
	port := testenv.FreePort(t)
	r, err := startHTTPResponder(Challenge{Listen: netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port))})
	require.NoError(t, err)
	defer r.Close()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("::1", strconv.Itoa(port)), 5*time.Second)
	require.NoError(t, err)
	c.Close()
	_, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	assert.Error(t, err, "an IPv6-only server must not accept IPv4")

	// The same port again: taken.
	_, err = startHTTPResponder(Challenge{Listen: netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port))})
	assert.ErrorIs(t, err, ErrPortBusy)
}

func TestAccountDirPerDirectoryURL(t *testing.T) {
	t.Parallel()
	s := &Store{Root: "/etc/letsencrypt"}
	assert.Equal(t, "/etc/letsencrypt/accounts/acme-v02.api.letsencrypt.org/directory/v6-certs", s.accountDir(LetsEncrypt))
	assert.Equal(t, "/etc/letsencrypt/accounts/[::1]:14000/dir/v6-certs", s.accountDir("https://[::1]:14000/dir"))
	assert.Equal(t, "/etc/letsencrypt/accounts/ca.example/_/a_b/v6-certs", s.accountDir("https://ca.example/../a b"))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Hour, backoff(1))
	assert.Equal(t, 2*time.Hour, backoff(2))
	assert.Equal(t, 24*time.Hour, backoff(10))
}

// TestDeployHookBackgroundChild: a deploy hook that starts a daemon (a SysV "service
// nginx restart", "sleep 600 &") leaves a child holding the output pipe; the run must
// still end once the hook itself has exited, and count the hook as passed.
func TestDeployHookBackgroundChild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	c, err := New(Config{Root: dir, Challenge: Challenge{Webroot: dir}, Deploy: Deploy{
		Check:  []string{"/bin/sh", "-c", "true"},
		Reload: []string{"/bin/sh", "-c", "sleep 600 & echo $! > " + pidFile + "; echo reloaded"},
	}})
	require.NoError(t, err)
	rep := Report{Changed: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.deploy(context.Background(), &rep, nil)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("deploy still waits for the hook's background child")
	}
	assert.True(t, rep.Deployed, rep.DeployError)
}
