package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/internal/testenv"
)

// TestMain lets the tests run this test binary as v6-envgen itself: real second
// processes, not goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("V6KIT_RUN_ENVGEN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type procOut struct {
	code           int
	stdout, stderr string
}

func envgenProc(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), testenv.ChildGORACE(), "V6KIT_RUN_ENVGEN=1")
	return cmd
}

func runProc(cmd *exec.Cmd) procOut {
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return procOut{code, so.String(), se.String()}
}

// pair starts two v6-envgen processes at the same moment.
func pair(t *testing.T, a, b []string) [2]procOut {
	var out [2]procOut
	var wg sync.WaitGroup
	for i, args := range [][]string{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = runProc(envgenProc(t, args...)) }()
	}
	wg.Wait()
	return out
}

const concurrencyRounds = 100

// rounds runs f for each round, eight rounds at a time.
func rounds(t *testing.T, f func(i int)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range concurrencyRounds {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer func() { <-sem; wg.Done() }(); f(i) }()
	}
	wg.Wait()
}

// TestTwoCreatorsGenerateOnce: two v6-envgen creating the same new file at once, 100
// rounds: exactly one generates the secrets, the other merges into its file; both exit 0
// and the file holds the winner's SECRET_KEY_BASE.
func TestTwoCreatorsGenerateOnce(t *testing.T) {
	t.Parallel()
	var doubles, lost int
	var mu sync.Mutex
	rounds(t, func(i int) {
		out := filepath.Join(t.TempDir(), ".env.production")
		args := []string{"--domain", "social.example.org", "--out", out}
		res := pair(t, args, args)
		gens := 0
		for _, r := range res {
			assert.Equal(t, 0, r.code, r.stderr)
			if strings.Contains(r.stdout, "generated SECRET_KEY_BASE") {
				gens++
			}
		}
		f, err := envfile.ParseFile(out)
		if !assert.NoError(t, err) {
			return
		}
		v, _ := f.Get("SECRET_KEY_BASE")
		mu.Lock()
		defer mu.Unlock()
		if gens != 1 {
			doubles++
		}
		if v == "" {
			lost++
		}
	})
	assert.Zero(t, doubles, "rounds where the secrets were not generated exactly once")
	assert.Zero(t, lost, "rounds that lost SECRET_KEY_BASE")
	t.Logf("%d rounds of two concurrent creators: %d double generations, %d lost secrets", concurrencyRounds, doubles, lost)
}

// TestTwoDisjointUpdatesBothLand: two v6-envgen with disjoint changes to one existing
// file at once, 100 rounds: both changes are in the file and no secret changed.
func TestTwoDisjointUpdatesBothLand(t *testing.T) {
	t.Parallel()
	var lostUpdates, lostSecrets int
	var mu sync.Mutex
	rounds(t, func(i int) {
		out := filepath.Join(t.TempDir(), ".env.production")
		r := runProc(envgenProc(t, "--domain", "social.example.org", "--out", out))
		require.Equal(t, 0, r.code, r.stderr)
		before, err := envfile.ParseFile(out)
		require.NoError(t, err)
		smtp, db := fmt.Sprintf("smtp%d.example.org", i), fmt.Sprintf("db%d.example.org", i)
		res := pair(t, []string{"--out", out, "--smtp-server", smtp}, []string{"--out", out, "--db-host", db})
		for _, r := range res {
			assert.Equal(t, 0, r.code, r.stderr)
		}
		after, err := envfile.ParseFile(out)
		require.NoError(t, err)
		gs, _ := after.Get("SMTP_SERVER")
		gd, _ := after.Get("DB_HOST")
		k0, _ := before.Get("SECRET_KEY_BASE")
		k1, _ := after.Get("SECRET_KEY_BASE")
		mu.Lock()
		defer mu.Unlock()
		if gs != smtp || gd != db {
			lostUpdates++
		}
		if k0 != k1 {
			lostSecrets++
		}
	})
	assert.Zero(t, lostUpdates, "rounds that lost an update")
	assert.Zero(t, lostSecrets, "rounds where SECRET_KEY_BASE changed")
	t.Logf("%d rounds of two concurrent disjoint updates: %d lost updates, %d changed secrets", concurrencyRounds, lostUpdates, lostSecrets)
}

// TestNoWaitAndWaitMessage: while another process holds the file's lock, --no-wait
// fails at once naming the holder's PID; without it the run waits, says for whom, and
// succeeds once the holder is gone.
func TestNoWaitAndWaitMessage(t *testing.T) {
	t.Parallel()
	_, out := newSite(t)
	holder := exec.Command(testenv.Tool(t, "flock", "util-linux"), "-o", fsutil.LockName(out), "sleep", "30")
	require.NoError(t, holder.Start())
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lk, err := fsutil.LockFile(context.Background(), out, fsutil.LockOptions{NoWait: true})
		if err != nil {
			break
		}
		lk.Unlock()
		require.True(t, time.Now().Before(deadline), "flock(1) never took the lock")
		time.Sleep(10 * time.Millisecond)
	}
	r := runProc(envgenProc(t, "--out", out, "--smtp-server", "smtp.example.org", "--no-wait"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf("PID %d holds", holder.Process.Pid))
	w := envgenProc(t, "--out", out, "--smtp-server", "smtp.example.org")
	stderr, err := w.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, w.Start())
	// Kill the holder only once the waiter says whom it waits for.
	sc := bufio.NewScanner(stderr)
	var said string
	for sc.Scan() {
		said += sc.Text() + "\n"
		if strings.Contains(sc.Text(), "waiting for PID") {
			break
		}
	}
	assert.Contains(t, said, fmt.Sprintf("waiting for PID %d", holder.Process.Pid))
	_ = holder.Process.Signal(syscall.SIGKILL)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	require.NoError(t, w.Wait(), said)
	f, _ := envfile.ParseFile(out)
	v, _ := f.Get("SMTP_SERVER")
	assert.Equal(t, "smtp.example.org", v)
}

// TestDanglingSymlinkIsNeverANewFile: a .env.production linking to an unmounted
// volume is an error naming it; nothing is generated or created.
func TestDanglingSymlinkIsNeverANewFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, ".env.production")
	require.NoError(t, os.Symlink(filepath.Join(dir, "secrets", "env"), out))
	code, stdout, stderr := runCLI(t, "--domain", "social.example.org", "--out", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, out+" is a symlink to "+filepath.Join(dir, "secrets", "env")+", which does not exist")
	assert.NotContains(t, stdout, "generated")
	fi, err := os.Lstat(out)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is left as it was")
	_, err = os.Stat(filepath.Join(dir, "secrets"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestFIFOsAreRefusedWithoutBlocking: a FIFO as --out or as --db-password-file is an
// error at once.
func TestFIFOsAreRefusedWithoutBlocking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, args := range [][]string{
		{"--domain", "social.example.org", "--out", fifo},
		{"--domain", "social.example.org", "--out", filepath.Join(dir, "env"), "--db-password-file", fifo},
		{"--domain", "social.example.org", "--out", filepath.Join(dir, "env"), "--redis-password-file", fifo},
		{"--domain", "social.example.org", "--out", filepath.Join(dir, "env"), "--smtp-server", "smtp.example.org", "--smtp-password-file", fifo},
		{"--out", fifo, "--check"},
		{"--out", fifo, "--diff"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), testenv.ChildGORACE(), "V6KIT_RUN_ENVGEN=1")
		r := runProc(cmd)
		cancel()
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "FIFO", "%v", args)
	}
}

// TestSymlinkChainIsRefused (issue 20): root's own link .env.production →
// ../shared/.env.production, where the mastodon user (here nobody) owns shared/ and
// put its own link to a dotenv-looking file elsewhere: nothing is generated, the file
// is not overwritten nor chmodded.
func TestSymlinkChainIsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"live", "shared", "etc"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, os.Chown(filepath.Join(dir, "shared"), 65534, 65534))
	victim := filepath.Join(dir, "etc", "victim.env")
	require.NoError(t, os.WriteFile(victim, []byte("FOO=bar\n"), 0o644))
	out := filepath.Join(dir, "live", ".env.production")
	require.NoError(t, os.Symlink("../shared/.env.production", out))
	hop := filepath.Join(dir, "shared", ".env.production")
	require.NoError(t, os.Symlink("../etc/victim.env", hop))
	require.NoError(t, os.Lchown(hop, 65534, 65534))
	code, stdout, stderr := runCLI(t, "--domain", "social.example.org", "--out", out)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, hop+" is a symlink to ../etc/victim.env owned by uid 65534")
	assert.NotContains(t, stdout+stderr, "generated")
	got, _ := os.ReadFile(victim)
	assert.Equal(t, "FOO=bar\n", string(got))
	fi, _ := os.Stat(victim)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}

// TestSummarySaysTheRealMode (issue 20): the summary line names the mode the file has
// after the write (kept 0400, tightened 0644 → 0640), not a fixed 0600.
func TestSummarySaysTheRealMode(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), ".env.production")
	code, stdout, stderr := runCLI(t, "--domain", "social.example.org", "--out", out)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "(mode 0600; generated ")
	for _, c := range []struct {
		before, after os.FileMode
		port          string
	}{{0o400, 0o400, "465"}, {0o644, 0o640, "2525"}} {
		require.NoError(t, os.Chmod(out, c.before))
		code, stdout, stderr = runCLI(t, "--out", out, "--smtp-server", "smtp.example.org", "--smtp-port", c.port)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, fmt.Sprintf("(mode %04o)", c.after), "was %04o", c.before)
		fi, _ := os.Stat(out)
		assert.Equal(t, c.after, fi.Mode().Perm())
	}
}
