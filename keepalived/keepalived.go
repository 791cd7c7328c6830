// Package keepalived renders keepalived.conf for a failover address shared by Mastodon's
// fronts: an IPv6 address and, optionally, an IPv4 one.
//
// It exists because a VRRP instance carries one address family (RFC 5798): a dual-stack
// failover address is two instances — the IPv6 one VRRPv3 with native_ipv6 —, and
// without a vrrp_sync_group the two can end up on different fronts. [Config.Write]
// renders one instance per family, joined in a sync group when there are two, every
// front in BACKUP state so the highest priority wins and a returning front takes the
// address back.
package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
)

// Sentinels, one per rule.
var (
	ErrInterface = errors.New("invalid interface: give the LAN interface's name (at most 15 bytes, no blanks or '/')")
	ErrVIP       = errors.New("invalid failover address: give ADDRESS/PREFIXLEN of the LAN, e.g. fd00:1::100/64 (and a separate IPv4 one)")
	ErrRouterID  = errors.New("invalid virtual_router_id: use 1-255, the same on every front and unique on the LAN")
	ErrPriority  = errors.New("invalid priority: use 1-254, a different one on each front (highest wins)")
	ErrAdvert    = errors.New("invalid advert interval: use 10ms to 40s (VRRPv3 counts centiseconds)")
	ErrName      = errors.New("invalid name: use letters, digits, '_' or '-'")
	ErrScript    = errors.New("invalid check script: give an absolute command without quotes, backslashes, control characters, # or !")
)

// Config is one front's keepalived. Interface and VIP6 are required.
type Config struct {
	// Name prefixes the instances (NAME_v6, NAME_v4) and the sync group. Zero: "mastodon".
	Name string
	// Interface carries the failover address.
	Interface string
	// VIP6 is the IPv6 failover address with its prefix length.
	VIP6 netip.Prefix
	// VIP4 is an optional IPv4 failover address. Zero: IPv6 only.
	VIP4 netip.Prefix
	// RouterID is virtual_router_id, shared by the fronts. Zero: 51.
	RouterID int
	// Priority is this front's priority; the highest live front holds the address. Zero: 100.
	Priority int
	// Advert is advert_int. Zero: 1 s. A silent master is replaced after about 3×Advert.
	Advert time.Duration
	// Check is a command run every 2 s (vrrp_script); failing it lowers nothing but puts
	// the front in FAULT, so the address moves (e.g. a check that HAProxy answers).
	// Empty: none.
	Check string
}

func (c Config) name() string {
	if c.Name == "" {
		return "mastodon"
	}
	return c.Name
}

func or(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func (c Config) advert() time.Duration {
	if c.Advert == 0 {
		return time.Second
	}
	return c.Advert
}

var (
	ifRE   = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,15}$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	// keepalived reads script "…" up to the line's end: no quote, backslash or control
	// character (a NUL ends the line early, a tab is a field separator), and no # or !,
	// which start its comments
	scriptRE = regexp.MustCompile("^/[^\"'\\\\#!\\x00-\\x1f\\x7f]*$")
)

func bad(ps *report.Problems, path string, sentinel error, format string, args ...any) {
	ps.Errorf(path, sentinel, "%s: %v", fmt.Sprintf(format, args...), sentinel)
}

// Validate reports every problem at once.
func (c Config) Validate() report.Problems {
	var ps report.Problems
	if !ifRE.MatchString(c.Interface) {
		bad(&ps, "interface", ErrInterface, "%q", c.Interface)
	}
	if v := c.VIP6; !v.IsValid() || !v.Addr().Is6() || v.Addr().Is4In6() || v.Addr().Zone() != "" || v.Addr().IsLinkLocalUnicast() ||
		v.Addr().IsMulticast() || v.Addr().IsUnspecified() || v == v.Masked() && v.Bits() < 128 {
		bad(&ps, "vip6", ErrVIP, "%q: an IPv6 unicast address, not link-local nor the prefix itself", c.VIP6)
	}
	if v := c.VIP4; v.IsValid() && (!v.Addr().Is4() || v.Addr().IsUnspecified() || v.Addr().IsMulticast()) {
		bad(&ps, "vip4", ErrVIP, "%q: an IPv4 unicast address", c.VIP4)
	}
	if c.RouterID < 0 || c.RouterID > 255 {
		bad(&ps, "router_id", ErrRouterID, "%d", c.RouterID)
	}
	if c.Priority < 0 || c.Priority > 254 {
		bad(&ps, "priority", ErrPriority, "%d", c.Priority)
	}
	if a := c.Advert; a < 0 || (a > 0 && (a < 10*time.Millisecond || a > 40*time.Second || a%(10*time.Millisecond) != 0)) {
		bad(&ps, "advert", ErrAdvert, "%v", a)
	}
	if !nameRE.MatchString(c.name()) {
		bad(&ps, "name", ErrName, "%q", c.Name)
	}
	if c.Check != "" && !scriptRE.MatchString(c.Check) {
		bad(&ps, "check", ErrScript, "%q", c.Check)
	}
	return ps.Sorted()
}

// Instances names the VRRP instances rendered: NAME_v6, and NAME_v4 with VIP4.
func (c Config) Instances() []string {
	out := []string{c.name() + "_v6"}
	if c.VIP4.IsValid() {
		out = append(out, c.name()+"_v4")
	}
	return out
}

// Write validates the configuration and renders keepalived.conf.
func (c Config) Write(w io.Writer) error {
	if err := c.Validate().Err(); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("# keepalived: the fronts' failover address, generated by v6kit keepalived.\n")
	b.WriteString("global_defs {\n\tvrrp_version 3\n")
	if c.Check != "" {
		b.WriteString("\tenable_script_security\n\tscript_user root\n")
	}
	b.WriteString("}\n")
	if c.Check != "" {
		fmt.Fprintf(&b, "vrrp_script %s_check {\n\tscript \"%s\"\n\tinterval 2\n\tfall 2\n\trise 2\n}\n", c.name(), c.Check)
	}
	inst := c.Instances()
	if len(inst) > 1 {
		b.WriteString("# One instance per address family (RFC 5798), kept on the same front by the sync group.\n")
		fmt.Fprintf(&b, "vrrp_sync_group %s {\n\tgroup {\n\t\t%s\n\t}\n}\n", c.name(), strings.Join(inst, "\n\t\t"))
	}
	adv := c.advert().Seconds()
	for i, vip := range []netip.Prefix{c.VIP6, c.VIP4}[:len(inst)] {
		fmt.Fprintf(&b, "vrrp_instance %s {\n\tstate BACKUP\n\tinterface %s\n", inst[i], c.Interface)
		if i == 0 {
			b.WriteString("\tnative_ipv6\n")
		}
		fmt.Fprintf(&b, "\tvirtual_router_id %d\n\tpriority %d\n\tadvert_int %s\n", or(c.RouterID, 51), or(c.Priority, 100),
			strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", adv), "0"), "."))
		fmt.Fprintf(&b, "\tvirtual_ipaddress {\n\t\t%s dev %s\n\t}\n", vip, c.Interface)
		if c.Check != "" {
			fmt.Fprintf(&b, "\ttrack_script {\n\t\t%s_check\n\t}\n", c.name())
		}
		b.WriteString("}\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Bytes is Write into a byte slice.
func (c Config) Bytes() ([]byte, error) {
	var b bytes.Buffer
	err := c.Write(&b)
	return b.Bytes(), err
}

// WriteFile validates the configuration and replaces name with keepalived.conf atomically,
// under the file's lock (a second run waits, then replaces it in turn), by the rules of
// package files: a new file gets mode 0644; an existing one keeps its owner, group and
// mode; what an interrupted run left behind is removed and said in Result.Notes; a
// symlinked lock file, a foreign or dangling link and a non-regular file are refused.
// Nothing is written when the configuration is invalid or the content is unchanged.
func (c Config) WriteFile(name string) (files.Result, error) {
	data, err := c.Bytes()
	if err != nil {
		return files.Result{}, err
	}
	res, err := fsutil.Replace(context.Background(), name, data, fsutil.Options{Mode: 0o644, KeepMode: true})
	if err != nil {
		return res, fmt.Errorf("keepalived: write %s: %w", name, err)
	}
	return res, nil
}
