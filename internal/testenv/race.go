package testenv

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The race harness runs two real processes (the test binary re-executed as the tool, by
// the package's TestMain) and holds both at a barrier until both have started, so they
// really collide: each says it is ready on fd 3 and waits for fd 4 to close.

const raceEnv = "V6KIT_RACE_BARRIER"

// RaceChild is called by a child process before it does its work: under [RacePair] it
// reports ready and blocks until both processes are released; otherwise it returns at
// once.
func RaceChild() {
	if os.Getenv(raceEnv) != "1" {
		return
	}
	ready, start := os.NewFile(3, "ready"), os.NewFile(4, "start")
	_, _ = ready.Write([]byte{1})
	_ = ready.Close()
	_, _ = io.Copy(io.Discard, start)
	_ = start.Close()
}

// Proc is what one process of a [RacePair] did.
type Proc struct {
	Code           int
	Stdout, Stderr string
}

// RacePair starts a and b (not yet started; their Env must make the test binary act as
// the tool), waits until both stand at the barrier, releases them together and returns
// their exit codes and output.
func RacePair(t testing.TB, a, b *exec.Cmd) [2]Proc {
	t.Helper()
	startR, startW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out [2]Proc
	var so, se [2]strings.Builder
	readies := make([]*os.File, 0, 2)
	cmds := []*exec.Cmd{a, b}
	for i, c := range cmds {
		readyR, readyW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if c.Env == nil {
			c.Env = os.Environ()
		}
		c.Env = append(c.Env, raceEnv+"=1")
		c.ExtraFiles = []*os.File{readyW, startR}
		c.Stdout, c.Stderr = &so[i], &se[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		readyW.Close()
		readies = append(readies, readyR)
	}
	startR.Close()
	for _, r := range readies {
		_, _ = r.Read(make([]byte, 1)) // ready, or EOF if it died before the barrier
		r.Close()
	}
	startW.Close() // both go
	for i, c := range cmds {
		err := c.Wait()
		out[i].Code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			out[i].Code = ee.ExitCode()
		} else if err != nil {
			out[i].Code = -1
			se[i].WriteString(err.Error())
		}
		out[i].Stdout, out[i].Stderr = so[i].String(), se[i].String()
	}
	return out
}

// Self returns a command running this test binary with env added, which its TestMain
// turns into the tool, with args. Under -race the child runs without the race runtime's
// one-second sleep at exit (GORACE atexit_sleep_ms, default 1000): it still reports a
// race and exits 66, but 200 children no longer cost 200 idle seconds.
func Self(env []string, args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), ChildGORACE())
	c.Env = append(c.Env, env...)
	return c
}

// SelfAs is [Self] run as the user uid (group gid), for what only a second user sees (a
// refusal to write root's file): the test binary is first copied to a directory that
// user can read, removed at cleanup. Needs root.
func SelfAs(t testing.TB, uid, gid int, env []string, args ...string) *exec.Cmd {
	t.Helper()
	d, err := os.MkdirTemp("", "v6kit-self-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	b, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.Chmod(d, 0o755)
	}
	bin := filepath.Join(d, filepath.Base(os.Args[0]))
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := Self(env, args...)
	c.Path, c.Args[0] = bin, bin
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return c
}

// ChildGORACE is the GORACE setting for a test's child process: the parent's options with
// atexit_sleep_ms=0 added.
func ChildGORACE() string {
	if g := os.Getenv("GORACE"); g != "" {
		return "GORACE=" + g + " atexit_sleep_ms=0"
	}
	return "GORACE=atexit_sleep_ms=0"
}

// Rounds runs f for rounds 0…n-1, par at a time, and returns when all are done.
func Rounds(n, par int, f func(i int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer func() { <-sem; wg.Done() }(); f(i) }()
	}
	wg.Wait()
}

// RaceRounds is the number of rounds of every two-process test.
const RaceRounds = 100

// Tally counts what went wrong over the rounds of a two-process test, safely from
// several goroutines.
type Tally struct {
	mu sync.Mutex
	n  map[string]int
	ex map[string]string
}

// Add counts one round with problem what, keeping the first example.
func (c *Tally) Add(what, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n, c.ex = map[string]int{}, map[string]string{}
	}
	c.n[what]++
	if _, ok := c.ex[what]; !ok {
		c.ex[what] = fmt.Sprintf(format, args...)
	}
}

// Check fails t for every problem counted (naming how many rounds and the first
// example) and logs the zero counts of the names given.
func (c *Tally) Check(t testing.TB, rounds int, names ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%d %s", c.n[n], n))
	}
	for what, k := range c.n {
		t.Errorf("%d of %d rounds: %s (first: %s)", k, rounds, what, c.ex[what])
	}
	t.Logf("%d rounds of two processes at once: %s", rounds, strings.Join(parts, ", "))
}

// Snapshot reads every regular file under dir whose name does not start with a dot (so
// no lock file, marker, temp file or .v6kit-backup/), keyed by slash path.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Which says which of the snapshots want got equals: its index, or -1 when it equals
// none (a mix, or something else).
func Which(got map[string]string, want ...map[string]string) int {
	for i, w := range want {
		if maps.Equal(got, w) {
			return i
		}
	}
	return -1
}

// Leftovers lists the names under dir a finished run must not leave: temp files and
// pending markers.
func Leftovers(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".v6kit-tmp-") || strings.HasSuffix(d.Name(), ".pending")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
