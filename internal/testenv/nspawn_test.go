package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDebianMirror(t *testing.T) {
	src := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`
	m, err := DebianMirror([]byte(src), "bookworm")
	if err != nil || m != "http://deb.debian.org/debian" {
		t.Fatalf("DebianMirror = %q, %v", m, err)
	}
	if _, err := DebianMirror([]byte(src), "trixie"); err == nil {
		t.Fatal("no trixie stanza: want an error")
	}
	if RootfsKey("bookworm", m, []string{"a", "b", "a"}) != RootfsKey("bookworm", m, []string{"b", "a"}) {
		t.Fatal("the key must not depend on the order or duplicates of the packages")
	}
	if RootfsKey("bookworm", m, []string{"a"}) == RootfsKey("bookworm", m, []string{"a", "b"}) {
		t.Fatal("the key must depend on the packages")
	}
}

// TestContainerBoots boots the Mastodon host's rootfs on an IPv6-only namespace and
// finds systemd as PID 1 running Debian's nginx, PostgreSQL and Redis units.
func TestContainerBoots(t *testing.T) {
	NspawnTools(t)
	start := time.Now()
	fs := Rootfs(t, MastodonHostPackages...)
	t.Logf("rootfs ready in %v", time.Since(start))
	ns := fmt.Sprintf("v6k%dw0-boot", os.Getpid()) // swept like a world's if the binary dies
	NetnsAdd(t, ns)
	if err := NetnsIP(ns, "link set lo up"); err != nil {
		t.Fatal(err)
	}
	c := BootContainer(t, ContainerOptions{Rootfs: fs, Netns: ns})
	t.Logf("booted in %v", c.Booted)
	if got := strings.TrimSpace(c.Run("cat", "/proc/1/comm")); got != "systemd" {
		t.Fatalf("PID 1 is %q, want systemd", got)
	}
	for _, u := range []string{"nginx.service", "postgresql@15-main.service", "redis-server.service"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := c.Command(ctx, "systemctl", "is-active", u).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s: %s (%v)", u, out, err)
		}
	}
	if v := c.Run("node", "--version"); !strings.HasPrefix(v, "v18.") {
		t.Errorf("Debian 12's node: %q", v)
	}
}
