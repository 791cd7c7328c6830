package testenv

// The systemd harness: systemd-analyze verify in a temp root with stub binaries,
// systemd-analyze security --offline, `systemd --test` as an oracle for what systemd
// parsed, and a private dbus-daemon with a fake org.freedesktop.systemd1 manager.
// systemd is not PID 1 on the test machines, so nothing here starts a real unit.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// SystemdAnalyze returns the path of systemd-analyze (Debian package systemd).
func SystemdAnalyze(t testing.TB) string {
	t.Helper()
	return Tool(t, "systemd-analyze", "systemd")
}

// SystemdVerify checks the named units (template instances allowed, e.g.
// mastodon-streaming@4000.service) from unitDir with `systemd-analyze verify --man=no
// --root=ROOT`, where ROOT is a temp root holding a copy of /lib/systemd/system, the
// unit files of unitDir in /etc/systemd/system, and an executable stub for every
// command the units run (ExecStart=, ExecReload=, …), so production paths such as
// /home/mastodon/.rbenv/shims/bundle verify without existing on the host. It returns
// everything systemd-analyze printed plus a note on a non-zero exit: any output is a
// failure, since unknown keys and unparsable values are only warnings with exit 0.
func SystemdVerify(t testing.TB, unitDir string, names ...string) string {
	t.Helper()
	sa := SystemdAnalyze(t)
	root := SystemdRoot(t, unitDir)
	args := append([]string{"verify", "--man=no", "--root=" + root}, names...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sa, args...).CombinedOutput()
	s := string(out)
	if err != nil {
		s += fmt.Sprintf("\n(systemd-analyze verify: %v)", err)
	}
	return s
}

// SystemdRoot builds a temp root for offline systemd tools (systemd-analyze --root,
// systemctl --root): a copy of /lib/systemd/system in /usr/lib/systemd/system, the unit
// files of unitDir in /etc/systemd/system, and an executable stub at every absolute
// path the units' Exec*= lines run.
func SystemdRoot(t testing.TB, unitDir string) string {
	t.Helper()
	root := TempDir(t)
	sys := filepath.Join(root, "usr/lib/systemd")
	etc := filepath.Join(root, "etc/systemd/system")
	for _, d := range []string{sys, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", "/lib/systemd/system", sys+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy /lib/systemd/system: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(unitDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(unitDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, exe := range SystemdCommands(data) {
			stub := filepath.Join(root, exe)
			if _, err := os.Stat(stub); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// SystemctlEnable runs `systemctl --root=ROOT enable NAMES…` in a root built by
// [SystemdRoot] from unitDir (this checks [Install] sections for real, offline) and
// returns the symlinks it created, relative to ROOT/etc/systemd/system, sorted
// (e.g. "multi-user.target.wants/mastodon-web.service").
func SystemctlEnable(t testing.TB, unitDir string, names ...string) []string {
	t.Helper()
	sc := Tool(t, "systemctl", "systemd")
	root := SystemdRoot(t, unitDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sc, append([]string{"--root=" + root, "enable"}, names...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl --root enable %s: %v\n%s", strings.Join(names, " "), err, out)
	}
	etc := filepath.Join(root, "etc/systemd/system")
	var links []string
	err = filepath.WalkDir(etc, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			rel, _ := filepath.Rel(etc, p)
			links = append(links, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(links)
	return links
}

var execKeyRe = regexp.MustCompile(`^(ExecStart|ExecStartPre|ExecStartPost|ExecReload|ExecStop|ExecStopPost|ExecCondition)=[-@:+!]*(\S+)`)

// SystemdCommands lists the executables (absolute paths) a unit file's Exec*= lines run.
func SystemdCommands(unitFile []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(unitFile))
	for sc.Scan() {
		if m := execKeyRe.FindStringSubmatch(sc.Text()); m != nil && strings.HasPrefix(m[2], "/") {
			out = append(out, m[2])
		}
	}
	return out
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// SystemdExposure runs `systemd-analyze security --offline=yes FILE` and returns the
// overall exposure score (0 best, 10 worst) and the full report.
func SystemdExposure(t testing.TB, file string) (float64, string) {
	t.Helper()
	sa := SystemdAnalyze(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sa, "security", "--offline=yes", "--no-pager", file).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security %s: %v\n%s", file, err, out)
	}
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output:\n%s", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, string(out)
}

// SystemdParsed is what systemd itself parsed from a unit, from `systemd --test`.
type SystemdParsed struct {
	// Environment holds the Environment= assignments, unquoted and unescaped.
	Environment []string
	// CommandLines holds each Exec*= command line as systemd's dump prints it (quoted).
	CommandLines []string
	// Dump is the unit's section of the dump.
	Dump string
}

// SystemdTest runs `systemd --test --system --unit=NAME` as user nobody with
// SYSTEMD_UNIT_PATH=unitDir: (systemd refuses test mode as root) and returns what it
// parsed for the unit: the escaping oracle. unitDir and its files must be readable by
// nobody (TempDir is 0755; write files 0644).
func SystemdTest(t testing.TB, unitDir, name string) SystemdParsed {
	t.Helper()
	sd := "/lib/systemd/systemd"
	if _, err := os.Stat(sd); err != nil {
		Unavailable(t, "%s not found (Debian package systemd)", sd)
	}
	setpriv := Tool(t, "setpriv", "util-linux")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			sd, "--test", "--system", "--unit="+name, "--no-pager")
	} else {
		cmd = exec.CommandContext(ctx, sd, "--test", "--system", "--unit="+name, "--no-pager")
	}
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+unitDir+":")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("systemd --test --unit=%s: %v\n%s", name, err, stderr.String())
	}
	var p SystemdParsed
	var dump strings.Builder
	in := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "-> Unit ") {
			in = strings.TrimSpace(line) == "-> Unit "+name+":"
			continue
		}
		if !in {
			continue
		}
		dump.WriteString(line + "\n")
		tl := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(tl, "Environment: "); ok {
			p.Environment = append(p.Environment, v)
		}
		if v, ok := strings.CutPrefix(tl, "Command Line: "); ok {
			p.CommandLines = append(p.CommandLines, v)
		}
	}
	p.Dump = dump.String()
	if p.Dump == "" {
		t.Fatalf("systemd --test printed no section for %s:\n%s", name, stderr.String())
	}
	return p
}

// StartDBusDaemon starts a private dbus-daemon (session type, no service activation)
// listening on a socket in a temp dir, and returns its address. It is stopped at cleanup.
func StartDBusDaemon(t testing.TB) string {
	t.Helper()
	daemon := Tool(t, "dbus-daemon", "dbus")
	dir := TempDir(t)
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	cfg := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=` + sock + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, exec.Command(daemon, "--config-file="+conf, "--nofork", "--nosyslog"), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The socket file exists from bind(), before listen(): wait until a connection is
	// accepted, or a client racing the daemon gets "connection refused".
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-p.Done():
			t.Fatalf("dbus-daemon exited: %v\n%s", p.Err(), p.Output.String())
		case <-ctx.Done():
			t.Fatalf("dbus-daemon did not create %s\n%s", sock, p.Output.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return "unix:path=" + sock
}

// FakeSystemd is a fake org.freedesktop.systemd1 manager on a D-Bus bus: it answers
// Reload, EnableUnitFiles, StartUnit, RestartUnit and ReloadUnit the way systemd does
// (jobs end with a JobRemoved signal) and records each call. It tests callers' D-Bus
// calls and wire encoding, not systemd.
type FakeSystemd struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	calls []string
	fail  map[string]string
	jobID atomic.Uint32
}

const (
	systemdPath  = dbus.ObjectPath("/org/freedesktop/systemd1")
	systemdIface = "org.freedesktop.systemd1.Manager"
)

// NewFakeSystemd connects to the bus at address, claims org.freedesktop.systemd1 and
// exports the fake manager. fail maps unit names to the job result their jobs report
// ("failed"); nil fails nothing.
func NewFakeSystemd(t testing.TB, address string, fail map[string]string) *FakeSystemd {
	t.Helper()
	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatalf("connect to %s: %v", address, err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &FakeSystemd{conn: conn, fail: fail}
	if err := conn.ExportMethodTable(map[string]any{
		"Reload":          f.reload,
		"EnableUnitFiles": f.enableUnitFiles,
		"StartUnit":       func(name, mode string) (dbus.ObjectPath, *dbus.Error) { return f.job("StartUnit", name, mode) },
		"RestartUnit":     func(name, mode string) (dbus.ObjectPath, *dbus.Error) { return f.job("RestartUnit", name, mode) },
		"ReloadUnit":      func(name, mode string) (dbus.ObjectPath, *dbus.Error) { return f.job("ReloadUnit", name, mode) },
	}, systemdPath, systemdIface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("claim org.freedesktop.systemd1: reply %v, %v", reply, err)
	}
	return f
}

func (f *FakeSystemd) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

// Calls returns the calls received so far, e.g. "Reload", "EnableUnitFiles a.service
// b.service runtime=false force=false", "StartUnit a.service replace".
func (f *FakeSystemd) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *FakeSystemd) reload() *dbus.Error {
	f.record("Reload")
	return nil
}

type enableChange struct {
	Type, Filename, Destination string
}

func (f *FakeSystemd) enableUnitFiles(files []string, runtime, force bool) (bool, []enableChange, *dbus.Error) {
	f.record(fmt.Sprintf("EnableUnitFiles %s runtime=%t force=%t", strings.Join(files, " "), runtime, force))
	var ch []enableChange
	for _, n := range files {
		ch = append(ch, enableChange{"symlink", "/etc/systemd/system/multi-user.target.wants/" + n, "/etc/systemd/system/" + n})
	}
	return true, ch, nil
}

func (f *FakeSystemd) job(method, name, mode string) (dbus.ObjectPath, *dbus.Error) {
	f.record(method + " " + name + " " + mode)
	id := f.jobID.Add(1)
	path := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	result := "done"
	if r, ok := f.fail[name]; ok {
		result = r
	}
	go func() {
		// Like systemd, the job ends after the call returned its path.
		time.Sleep(5 * time.Millisecond)
		_ = f.conn.Emit(systemdPath, systemdIface+".JobRemoved", id, path, name, result)
	}()
	return path, nil
}
