package testenv

// A real systemd as PID 1: a Debian 12 system booted with systemd-nspawn over a rootfs
// built by mmdebstrap from Debian's packages (the mirror the host's apt uses), cached as
// a tarball under the user cache dir and unpacked per container.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RootfsSuite is the Debian release the containers run.
const RootfsSuite = "bookworm"

// rootfsBase are the packages every rootfs has: systemd as init and D-Bus for systemctl.
var rootfsBase = []string{"systemd", "dbus", "systemd-sysv"}

// DebianSources is the apt sources file the rootfs mirror is read from.
const DebianSources = "/etc/apt/sources.list.d/debian.sources"

// DebianMirror is the first URI of the deb822 stanza of DebianSources that lists suite
// in its Suites field.
func DebianMirror(sources []byte, suite string) (string, error) {
	for _, stanza := range strings.Split(string(sources), "\n\n") {
		fields := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(stanza))
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "#") {
				continue
			}
			if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(k, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || !slices.Contains(strings.Fields(fields["suites"]), suite) {
			continue
		}
		if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
			return uris[0], nil
		}
	}
	return "", fmt.Errorf("no deb stanza for %s with URIs", suite)
}

// RootfsKey names the cached rootfs of a package list: the suite, the mirror and the
// sorted, deduplicated packages, hashed.
func RootfsKey(suite, mirror string, packages []string) string {
	p := slices.Clone(packages)
	slices.Sort(p)
	p = slices.Compact(p)
	h := sha256.Sum256([]byte(suite + "\n" + mirror + "\n" + strings.Join(p, ",")))
	return hex.EncodeToString(h[:8])
}

// Rootfs returns the path of a tarball of a Debian 12 minbase system with systemd, D-Bus
// and packages, built with mmdebstrap from the host's Debian mirror when it is not
// cached yet: os.UserCacheDir()/v6kit/rootfs/KEY.tar ([RootfsKey]), built once under a
// lock file, so test binaries running in parallel share one build. A build takes
// 1–2 minutes and ~650 MB; a cached rootfs costs nothing.
func Rootfs(t testing.TB, packages ...string) string {
	t.Helper()
	RequireRoot(t)
	mm := Tool(t, "mmdebstrap", "mmdebstrap")
	src, err := os.ReadFile(DebianSources)
	if err != nil {
		Unavailable(t, "no Debian mirror to build the rootfs from: %v", err)
	}
	mirror, err := DebianMirror(src, RootfsSuite)
	if err != nil {
		Unavailable(t, "%s: %v", DebianSources, err)
	}
	all := append(slices.Clone(rootfsBase), packages...)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("rootfs cache: %v", err)
	}
	dir := filepath.Join(cache, "v6kit", "rootfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("rootfs cache: %v", err)
	}
	key := RootfsKey(RootfsSuite, mirror, all)
	tarball := filepath.Join(dir, key+".tar")
	lock, err := os.OpenFile(tarball+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("rootfs lock: %v", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("rootfs lock: %v", err)
	}
	if _, err := os.Stat(tarball); err == nil {
		return tarball
	}
	slices.Sort(all)
	all = slices.Compact(all)
	start := time.Now()
	tmp := tarball + ".part"
	_ = os.Remove(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mm, "--variant=minbase", "--include="+strings.Join(all, ","), "--format=tar", RootfsSuite, tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		t.Fatalf("mmdebstrap %s from %s: %v\n%s", RootfsSuite, mirror, err, out)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatalf("rootfs cache: %v", err)
	}
	t.Logf("rootfs %s built in %v (%s, packages %s)", tarball, time.Since(start).Round(100*time.Millisecond), mirror, strings.Join(all, ","))
	return tarball
}

// Container is a Debian system booted by systemd-nspawn, systemd its PID 1.
type Container struct {
	// Name is the machine name (and the container's hostname).
	Name string
	// Root is the container's root directory on the host: files written under it are
	// the container's files.
	Root string
	// Leader is the host PID of the container's PID 1.
	Leader int
	// Proc is systemd-nspawn.
	Proc *Process
	// Booted is how long the boot took, from starting nspawn to running (or degraded).
	Booted time.Duration

	t testing.TB
}

// ContainerOptions say how to boot a container.
type ContainerOptions struct {
	// Rootfs is the tarball from [Rootfs].
	Rootfs string
	// Netns is the network namespace (a name under /run/netns) the container runs in;
	// empty: nspawn's own private network with only loopback.
	Netns string
	// ResolvConf is written to the container's /etc/resolv.conf before boot.
	ResolvConf string
	// Setup, if set, runs on the unpacked root before the boot.
	Setup func(root string) error
}

var containerSeq atomic.Int64

// NspawnTools checks for root, systemd-nspawn, nsenter and tar.
func NspawnTools(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	Tool(t, "systemd-nspawn", "systemd-container")
	Tool(t, "nsenter", "util-linux")
	Tool(t, "tar", "tar")
}

// BootContainer unpacks the rootfs into a temp dir and boots it with
// `systemd-nspawn --boot --console=pipe --register=no --keep-unit` (these hosts have no
// systemd of their own to register with), in its own cgroup, on opt.Netns, then waits
// until `systemctl is-system-running` says running (or degraded: the failed units are
// logged). At cleanup the journal is logged when the test failed, and the container is
// powered off.
func BootContainer(t testing.TB, opt ContainerOptions) *Container {
	t.Helper()
	NspawnTools(t)
	nspawn := Tool(t, "systemd-nspawn", "systemd-container")
	name := fmt.Sprintf("v6k%dc%d", os.Getpid(), containerSeq.Add(1))
	root := filepath.Join(TempDir(t), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "--numeric-owner", "-xpf", opt.Rootfs, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", opt.Rootfs, err, out)
	}
	if opt.ResolvConf != "" {
		_ = os.Remove(filepath.Join(root, "etc/resolv.conf"))
		if err := os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte(opt.ResolvConf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if opt.Setup != nil {
		if err := opt.Setup(root); err != nil {
			t.Fatalf("container setup: %v", err)
		}
	}
	// Its own cgroups: two containers in one cgroup disturb each other's systemd.
	var cgroups []string
	for _, h := range []string{"systemd", "unified"} {
		d := filepath.Join("/sys/fs/cgroup", h, name)
		if _, err := os.Stat(filepath.Dir(d)); err != nil {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("cgroup for %s: %v", name, err)
		}
		cgroups = append(cgroups, d)
	}
	t.Cleanup(func() {
		for _, d := range cgroups {
			removeCgroup(d)
		}
	})
	args := []string{"-D", root, "--boot", "--console=pipe", "-M", name, "--register=no", "--keep-unit", "--resolv-conf=off"}
	if opt.Netns != "" {
		args = append(args, "--network-namespace-path="+filepath.Join(NetnsPath, opt.Netns))
	}
	script := ""
	for _, d := range cgroups {
		script += "echo $$ > " + d + "/cgroup.procs && "
	}
	cmd := exec.Command("sh", append([]string{"-c", script + `exec "$0" "$@"`, nspawn}, args...)...)
	cmd.Stdin = nil
	start := time.Now()
	c := &Container{Name: name, Root: root, t: t}
	c.Proc = Start(t, cmd, syscall.SIGTERM)
	t.Cleanup(func() { c.shutdown() })
	deadline := time.Now().Add(2 * time.Minute)
	var state string
	for {
		// nspawn's first child is a short-lived helper: PID 1 is the child running systemd.
		c.Leader = systemdChildOf(cmd.Process.Pid)
		if c.Leader != 0 {
			out, _ := c.Command(context.Background(), "systemctl", "is-system-running").Output()
			state = strings.TrimSpace(string(out))
			if state == "running" || state == "degraded" {
				break
			}
		}
		select {
		case <-c.Proc.Done():
			t.Fatalf("systemd-nspawn exited while booting (%q): %v\n%s", state, c.Proc.Err(), c.Proc.Output.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not booted in 2 minutes: %q\n%s\n%s", name, state, c.Journal(), c.Proc.Output.String())
		}
	}
	c.Booted = time.Since(start)
	if state == "degraded" {
		out, _ := c.Command(context.Background(), "systemctl", "--failed", "--no-pager", "--no-legend").CombinedOutput()
		t.Logf("%s is degraded; failed units:\n%s", name, out)
	}
	return c
}

// systemdChildOf is the child of pid running systemd (0 while there is none).
func systemdChildOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		comm, err := os.ReadFile("/proc/" + f + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
			n, _ := strconv.Atoi(f)
			return n
		}
	}
	return 0
}

func removeCgroup(d string) {
	// systemd inside may leave child cgroups behind: remove the deepest first.
	var dirs []string
	_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}

// containerEnv is the environment commands run with inside: a root login's, not the
// test's.
var containerEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"}

// Command runs argv inside the container (every namespace of its PID 1, through
// nsenter) as root with a clean environment.
func (c *Container) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(c.Leader), "-a", "--", "/usr/bin/env", "-i"}, containerEnv...)
	cmd := exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	cmd.Env = containerEnv
	return cmd
}

// Run runs argv inside and returns its standard output; a failure is fatal, with the
// output.
func (c *Container) Run(argv ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	both := &SyncBuffer{} // written by the stdout and the stderr copiers
	cmd := c.Command(ctx, argv...)
	cmd.Stdout = io.MultiWriter(&stdout, both)
	cmd.Stderr = both
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("in %s: %s: %v\n%s", c.Name, strings.Join(argv, " "), err, both.String())
	}
	return stdout.String()
}

// Journal is the boot's journal and the failed units, for a failure message.
func (c *Container) Journal() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := c.Command(ctx, "journalctl", "-b", "--no-pager", "-n", "400", "-o", "short-monotonic").CombinedOutput()
	f, _ := c.Command(ctx, "systemctl", "--failed", "--no-pager").CombinedOutput()
	return fmt.Sprintf("journal (%v):\n%s\n%s", err, j, f)
}

// shutdown logs the journal when the test failed, then powers the container off and
// waits for nspawn to exit (SIGTERM, then Start's SIGKILL, if it does not).
func (c *Container) shutdown() {
	if c.Leader == 0 {
		return
	}
	if c.t.Failed() {
		c.t.Logf("%s %s", c.Name, c.Journal())
	}
	select {
	case <-c.Proc.Done():
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Command(ctx, "systemctl", "poweroff", "--no-block").Run()
	select {
	case <-c.Proc.Done():
	case <-time.After(30 * time.Second):
		c.t.Logf("%s did not power off in 30 s: %v", c.Name, errors.New("timeout"))
	}
}

// MastodonHostPackages are what an all-in-one Mastodon host installs from Debian 12 for
// the install steps (besides Ruby, which comes from rbenv): nginx, PostgreSQL 15, Redis 7,
// Node.js 18, git for the checkout, nftables for the packet filter, jemalloc for puma,
// the CA bundle, iproute2 and curl. The nspawn tests share this list, and so one cached
// rootfs.
var MastodonHostPackages = []string{"nginx", "postgresql", "redis-server", "nodejs", "git", "nftables",
	"libjemalloc2", "ca-certificates", "iproute2", "curl"}
