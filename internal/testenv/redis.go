package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a throwaway redis-server started by [StartRedis].
type Redis struct {
	Dir  string // working directory (dir), also holds the test config and the log
	Log  string
	Proc *Process
}

// LogText returns the server log so far.
func (r *Redis) LogText() string {
	b, _ := os.ReadFile(r.Log)
	return string(b)
}

// RedisConfCheck parses a Redis config file with the real redis-server without starting
// it: with --port 0 and no unix socket Redis reads the whole file, initialises, and exits
// with "Configured to not listen anywhere", which means the file is fine. Any other
// output is the error (a FATAL CONFIG FILE ERROR names the line). Bind addresses are not
// checked this way; [StartRedis] does that.
func RedisConfCheck(t testing.TB, file string) error {
	t.Helper()
	bin := Tool(t, "redis-server", "redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, file, "--port", "0", "--unixsocket", "", "--daemonize", "no",
		"--logfile", "", "--save", "", "--appendonly", "no", "--pidfile", "")
	cmd.Dir = filepath.Dir(file)
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "Configured to not listen anywhere") {
		return nil
	}
	return fmt.Errorf("redis-server rejected %s:\n%s", file, out)
}

// StartRedis runs redis-server as a child on a config that includes snippet (which
// sets bind/port/unixsocket and auth) followed by test overrides: its own dir, log file,
// no persistence, no pid file, foreground. It waits until Redis logs "Ready to accept
// connections" and returns an error holding the log when Redis exits instead (a bind
// address that is not on this host, for example). Stopped with SIGTERM at cleanup.
func StartRedis(t testing.TB, snippet string) (*Redis, error) {
	t.Helper()
	bin := Tool(t, "redis-server", "redis-server")
	d := TempDir(t)
	r := &Redis{Dir: d, Log: filepath.Join(d, "redis.log")}
	conf := fmt.Sprintf("include %s\ndir %s\ndaemonize no\nsupervised no\npidfile \"\"\nlogfile %s\nsave \"\"\nappendonly no\n",
		snippet, d, r.Log)
	cf := filepath.Join(d, "test.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Proc = Start(t, exec.Command(bin, cf), syscall.SIGTERM)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if log := r.LogText(); strings.Contains(log, "Ready to accept connections") || strings.Contains(log, "ready to accept connections") {
			return r, nil
		}
		select {
		case <-r.Proc.Done():
			return r, fmt.Errorf("redis-server exited: %v\n%s%s", r.Proc.Err(), r.LogText(), r.Proc.Output.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("redis-server not ready after 60 s:\n%s", r.LogText())
		}
	}
}
