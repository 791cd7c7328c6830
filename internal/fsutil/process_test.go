package fsutil

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests here run real second processes: the test binary re-executed with
// V6KIT_FSUTIL_CHILD naming what it does.
func TestMain(m *testing.M) {
	if mode := os.Getenv("V6KIT_FSUTIL_CHILD"); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

func itoa(i int) string { return strconv.Itoa(i) }

func childMain(mode string) int {
	ctx := context.Background()
	file := os.Getenv("V6KIT_FSUTIL_FILE")
	rounds, _ := strconv.Atoi(os.Getenv("V6KIT_FSUTIL_ROUNDS"))
	switch mode {
	case "write":
		if _, err := WriteFile(file, []byte("nobody's\n"), Options{KeepMode: true}); err != nil {
			fmt.Println(err)
			return 1
		}
	case "replace-backupdir":
		// A site or .env.production rewrite (Update, backup in .v6kit-backup/).
		res, err := Replace(ctx, file, []byte("nobody's\n"), Options{KeepMode: true, BackupDir: true, Secret: true})
		for _, n := range res.Notes {
			fmt.Println("note:", n)
		}
		if err != nil {
			fmt.Println(err)
			return 1
		}
	case "hold":
		lk, err := LockFile(ctx, file, LockOptions{})
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("ready")
		defer lk.Unlock()
		select {}
	case "midset":
		s := &Set{Name: "test", Dir: file}
		if err := s.Begin(ctx, LockOptions{}); err != nil {
			fmt.Println(err)
			return 1
		}
		for _, n := range []string{"a", "b"} {
			if err := s.Add(ctx, filepath.Join(file, n), []byte("new "+n), Options{}); err != nil {
				fmt.Println(err)
				return 1
			}
		}
		s.BeforeRename = func(p string) error {
			if filepath.Base(p) == "b" {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			return nil
		}
		_, _ = s.Commit()
		return 3
	case "append":
		// rounds read-merge-writes each adding one line: none may be lost.
		for i := range rounds {
			_, err := Update(ctx, file, Options{}, func(old []byte, _ bool) ([]byte, error) {
				return append(old, fmt.Sprintf("%d-%d\n", os.Getpid(), i)...), nil
			})
			if err != nil {
				fmt.Println(err)
				return 1
			}
		}
	case "create":
		// rounds new files, each created with a fresh secret unless it exists: the
		// process prints the secret it ended with and whether it generated it.
		for i := range rounds {
			var got string
			gen := false
			_, err := Update(ctx, filepath.Join(file, strconv.Itoa(i)), Options{Mode: 0o600}, func(old []byte, exists bool) ([]byte, error) {
				if exists {
					got = string(old)
					return old, nil
				}
				b := make([]byte, 16)
				_, _ = rand.Read(b)
				got, gen = hex.EncodeToString(b), true
				return []byte(got), nil
			})
			if err != nil {
				fmt.Println(err)
				return 1
			}
			fmt.Printf("%d %s %t\n", i, got, gen)
		}
	}
	return 0
}

func childCmd(t *testing.T, env []string, uid int) *exec.Cmd {
	bin := os.Args[0]
	if uid != os.Geteuid() {
		d, err := os.MkdirTemp("", "v6kit-fsutil-bin-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(d) })
		require.NoError(t, os.Chmod(d, 0o755))
		b, err := os.ReadFile(bin)
		require.NoError(t, err)
		bin = filepath.Join(d, "fsutil.test")
		require.NoError(t, os.WriteFile(bin, b, 0o755))
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0") // no idle second at exit under -race
	cmd.Env = append(cmd.Env, env...)
	if uid != os.Geteuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	return cmd
}

func child(t *testing.T, env []string, uid int) (string, error) {
	out, err := childCmd(t, env, uid).CombinedOutput()
	return string(out), err
}

func holdLock(t *testing.T, target string) (*exec.Cmd, <-chan struct{}) {
	cmd := childCmd(t, []string{"V6KIT_FSUTIL_CHILD=hold", "V6KIT_FSUTIL_FILE=" + target}, os.Geteuid())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() && s.Text() == "ready" {
			close(ready)
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, ready
}

func childKilledMidSet(t *testing.T, dir string) (string, error) {
	out, err := child(t, []string{"V6KIT_FSUTIL_CHILD=midset", "V6KIT_FSUTIL_FILE=" + dir}, os.Geteuid())
	if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
		return out, nil
	}
	return out, fmt.Errorf("child was not killed mid-set: %v", err)
}

// runPair runs two child processes at once with the same environment.
func runPair(t *testing.T, env ...string) [2]string {
	var outs [2]string
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := child(t, env, os.Geteuid())
			assert.NoError(t, err, out)
			outs[i] = out
		}()
	}
	wg.Wait()
	return outs
}

const rounds = 100

// TestTwoProcessesLoseNoUpdate: two processes, each doing 100 read-merge-writes of one
// file at the same time: every one of the 200 lines is there.
func TestTwoProcessesLoseNoUpdate(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	runPair(t, "V6KIT_FSUTIL_CHILD=append", "V6KIT_FSUTIL_FILE="+file, "V6KIT_FSUTIL_ROUNDS="+itoa(rounds))
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	assert.Len(t, lines, 2*rounds, "zero lost updates")
}

// TestTwoProcessesCreateOnce: two processes race to create the same 100 new files,
// each with a fresh secret when none exists: each file's secret is generated exactly
// once and both processes end with the same one.
func TestTwoProcessesCreateOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outs := runPair(t, "V6KIT_FSUTIL_CHILD=create", "V6KIT_FSUTIL_FILE="+dir, "V6KIT_FSUTIL_ROUNDS="+itoa(rounds))
	seen := map[string]string{}
	gens := map[string]int{}
	for _, out := range outs {
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			require.Len(t, f, 3, l)
			if prev, ok := seen[f[0]]; ok {
				assert.Equal(t, prev, f[1], "round %s: both processes hold the same secret", f[0])
			}
			seen[f[0]] = f[1]
			if f[2] == "true" {
				gens[f[0]]++
			}
		}
	}
	require.Len(t, seen, rounds)
	for i := range rounds {
		assert.Equal(t, 1, gens[itoa(i)], "round %d: generated exactly once", i)
		b, _ := os.ReadFile(filepath.Join(dir, itoa(i)))
		assert.Equal(t, seen[itoa(i)], string(b), "round %d: the file holds the secret both saw", i)
	}
}
