package firewall

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/report"
)

var (
	actions = []string{"pass", "pass-log", "pass-nolog", "reject", "reject-log", "reject-nolog"}
	tokenRE = regexp.MustCompile(`^(\*|[a-z0-9][a-z0-9,-]*)$`)
)

// Validate reports every problem of the ACL: numbers outside 1-65535 or used twice,
// unknown actions and directions, tokens RTX would not read as one field.
func (a ACL) Validate() report.Problems {
	var ps report.Problems
	seen := map[int]bool{}
	for i, f := range a.Filters {
		p := fmt.Sprintf("filters[%d]", i)
		checkNum(&ps, p+".num", f.Num, seen)
		if !slices.Contains(actions, f.Action) {
			ps.Errorf(p+".action", ErrSyntax, "action %q: use one of %s", f.Action, strings.Join(actions, ", "))
		}
		checkMatch(&ps, p+".src", f.Src)
		checkMatch(&ps, p+".dst", f.Dst)
		for name, tok := range map[string]string{".proto": f.Proto, ".src_port": f.SrcPort, ".dst_port": f.DstPort} {
			if !tokenRE.MatchString(tok) {
				ps.Errorf(p+name, ErrSyntax, "%q: use * or lowercase names, numbers, ranges and commas", tok)
			}
		}
	}
	seenDyn := map[int]bool{}
	for i, d := range a.Dynamic {
		p := fmt.Sprintf("dynamic[%d]", i)
		checkNum(&ps, p+".num", d.Num, seenDyn)
		checkMatch(&ps, p+".src", d.Src)
		checkMatch(&ps, p+".dst", d.Dst)
		if d.Proto == "*" || !tokenRE.MatchString(d.Proto) || strings.ContainsAny(d.Proto, ",-") {
			ps.Errorf(p+".proto", ErrSyntax, "%q: use tcp, udp or an RTX application name such as www", d.Proto)
		}
		if d.Syslog != "" && d.Syslog != "on" && d.Syslog != "off" {
			ps.Errorf(p+".syslog", ErrSyntax, "syslog %q: use on, off or leave it out", d.Syslog)
		}
	}
	for i, ap := range a.Apply {
		p := fmt.Sprintf("apply[%d]", i)
		switch {
		case (ap.Tunnel == 0) == (ap.Interface == ""):
			ps.Errorf(p, ErrInterface, "set exactly one of interface and tunnel")
		case ap.Tunnel < 0 || ap.Tunnel > 3000:
			ps.Errorf(p+".tunnel", ErrInterface, "tunnel %d: use 1-3000", ap.Tunnel)
		case ap.Interface != "" && !ifaceRE.MatchString(ap.Interface):
			ps.Errorf(p+".interface", ErrInterface, "interface %q: use a name such as lan2 or bridge1", ap.Interface)
		}
		if ap.Dir != "in" && ap.Dir != "out" {
			ps.Errorf(p+".dir", ErrSyntax, "direction %q: use in or out", ap.Dir)
		}
		if len(ap.Static) == 0 {
			ps.Errorf(p+".static", ErrSyntax, "a secure filter line needs at least one static filter")
		}
		for j, n := range ap.Static {
			checkNum(&ps, fmt.Sprintf("%s.static[%d]", p, j), n, nil)
		}
		for j, n := range ap.Dynamic {
			checkNum(&ps, fmt.Sprintf("%s.dynamic[%d]", p, j), n, nil)
		}
	}
	return ps
}

func checkNum(ps *report.Problems, path string, n int, seen map[int]bool) {
	if n < 1 || n > MaxFilter {
		ps.Errorf(path, ErrRange, "filter number %d: use 1-%d", n, MaxFilter)
		return
	}
	if seen != nil {
		if seen[n] {
			ps.Errorf(path, ErrRange, "filter number %d is used twice", n)
		}
		seen[n] = true
	}
}

func checkMatch(ps *report.Problems, path string, p netip.Prefix) {
	if p == (netip.Prefix{}) {
		return
	}
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p != p.Masked() {
		ps.Errorf(path, ErrPrefix, "%s: use * or an IPv6 address or prefix in canonical form", p)
	}
}

func matchString(p netip.Prefix) string {
	switch {
	case p == (netip.Prefix{}):
		return "*"
	case p.IsSingleIP():
		return p.Addr().String()
	}
	return p.String()
}

func joinNums(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}

// Bytes validates the ACL and returns it in RTX syntax.
func (a ACL) Bytes() ([]byte, error) {
	if err := a.Validate().Err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", Header)
	b.WriteString("# Yamaha RTX IPv6 filters: enter them in the console or a config file. The secure\n")
	b.WriteString("# filter lines replace the interface's whole list.\n")
	for _, f := range a.Filters {
		fmt.Fprintf(&b, "ipv6 filter %d %s %s %s %s %s %s\n", f.Num, f.Action, matchString(f.Src), matchString(f.Dst), f.Proto, f.SrcPort, f.DstPort)
	}
	for _, d := range a.Dynamic {
		fmt.Fprintf(&b, "ipv6 filter dynamic %d %s %s %s", d.Num, matchString(d.Src), matchString(d.Dst), d.Proto)
		if d.Syslog != "" {
			fmt.Fprintf(&b, " syslog=%s", d.Syslog)
		}
		b.WriteByte('\n')
	}
	tunnel := 0
	for _, ap := range a.Apply {
		if ap.Tunnel != tunnel {
			if ap.Tunnel == 0 {
				b.WriteString("tunnel select none\n")
			} else {
				fmt.Fprintf(&b, "tunnel select %d\n", ap.Tunnel)
			}
			tunnel = ap.Tunnel
		}
		iface := ap.Interface
		if ap.Tunnel != 0 {
			iface = "tunnel"
		}
		fmt.Fprintf(&b, "ipv6 %s secure filter %s %s", iface, ap.Dir, joinNums(ap.Static))
		if len(ap.Dynamic) > 0 {
			fmt.Fprintf(&b, " dynamic %s", joinNums(ap.Dynamic))
		}
		b.WriteByte('\n')
	}
	if tunnel != 0 {
		b.WriteString("tunnel select none\n")
	}
	return b.Bytes(), nil
}

// Write validates the ACL and writes it to w in RTX syntax; nothing is written when
// it is invalid.
func (a ACL) Write(w io.Writer) error {
	b, err := a.Bytes()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile validates the ACL and replaces name with it like [Config.WriteFile].
func (a ACL) WriteFile(name string) (files.Result, error) {
	return a.WriteFileOpts(name, WriteOptions{})
}

// WriteFileOpts is [ACL.WriteFile] with the lock's wait chosen by o.
func (a ACL) WriteFileOpts(name string, o WriteOptions) (files.Result, error) {
	b, err := a.Bytes()
	if err != nil {
		return files.Result{}, err
	}
	return writeFile(name, b, o)
}

// ParseACL reads the RTX lines [ACL.Write] prints: `ipv6 filter` (trailing fields may be
// left out and read as *), `ipv6 filter dynamic` (with an optional `syslog=on|off`, as
// a router's own configuration has it), `tunnel select N|none` and
// `ipv6 IFACE|tunnel secure filter in|out`. Blank lines and # comments are skipped;
// any other line is an error naming its line number, as is an ACL that does not validate.
func ParseACL(r io.Reader) (ACL, error) {
	var a ACL
	var ps report.Problems
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	tunnel, line := 0, 0
	for sc.Scan() {
		line++
		path := fmt.Sprintf("line %d", line)
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(format string, args ...any) {
			ps.Errorf(path, ErrSyntax, "%q: %s", sc.Text(), fmt.Sprintf(format, args...))
		}
		switch {
		case len(f) == 3 && f[0] == "tunnel" && f[1] == "select":
			if f[2] == "none" {
				tunnel = 0
				break
			}
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 1 || n > 3000 {
				bad("tunnel number must be 1-3000 or none")
				break
			}
			tunnel = n
		case len(f) >= 3 && f[0] == "ipv6" && f[1] == "filter" && f[2] == "dynamic":
			syslog := ""
			if len(f) == 8 {
				v, ok := strings.CutPrefix(f[7], "syslog=")
				if !ok || (v != "on" && v != "off") {
					bad("the only option v6kit reads after PROTO is syslog=on or syslog=off")
					break
				}
				syslog = v
			} else if len(f) != 7 {
				bad("want ipv6 filter dynamic NUM SRC DST PROTO [syslog=on|off]")
				break
			}
			n, err := strconv.Atoi(f[3])
			src, err1 := parseMatch(f[4])
			dst, err2 := parseMatch(f[5])
			if err != nil || err1 != nil || err2 != nil {
				bad("want a number and two addresses, prefixes or *")
				break
			}
			a.Dynamic = append(a.Dynamic, Dynamic{Num: n, Src: src, Dst: dst, Proto: f[6], Syslog: syslog})
		case len(f) >= 5 && f[0] == "ipv6" && f[1] == "filter":
			if len(f) > 9 {
				bad("want ipv6 filter NUM ACTION SRC [DST [PROTO [SRCPORT [DSTPORT]]]]")
				break
			}
			for len(f) < 9 {
				f = append(f, "*")
			}
			n, err := strconv.Atoi(f[2])
			src, err1 := parseMatch(f[4])
			dst, err2 := parseMatch(f[5])
			if err != nil || err1 != nil || err2 != nil {
				bad("want a number and two addresses, prefixes or *")
				break
			}
			a.Filters = append(a.Filters, Filter{Num: n, Action: f[3], Src: src, Dst: dst, Proto: f[6], SrcPort: f[7], DstPort: f[8]})
		case len(f) >= 6 && f[0] == "ipv6" && f[2] == "secure" && f[3] == "filter":
			ap := Apply{Dir: f[4]}
			if f[1] == "tunnel" {
				if tunnel == 0 {
					bad("ipv6 tunnel secure filter needs a tunnel select N line before it")
					break
				}
				ap.Tunnel = tunnel
			} else {
				ap.Interface = f[1]
			}
			nums, dyn := &ap.Static, false
			ok := true
			for _, t := range f[5:] {
				if t == "dynamic" && !dyn {
					nums, dyn = &ap.Dynamic, true
					continue
				}
				n, err := strconv.Atoi(t)
				if err != nil {
					ok = false
					break
				}
				*nums = append(*nums, n)
			}
			if !ok || (dyn && len(ap.Dynamic) == 0) {
				bad("want filter numbers, then optionally dynamic and more numbers")
				break
			}
			a.Apply = append(a.Apply, ap)
		default:
			bad("not a line v6kit writes (ipv6 filter, ipv6 filter dynamic, tunnel select, ipv6 … secure filter)")
		}
	}
	if err := sc.Err(); err != nil {
		return ACL{}, fmt.Errorf("firewall: read ACL: %w", err)
	}
	if err := ps.Err(); err != nil {
		return ACL{}, err
	}
	if err := a.Validate().Err(); err != nil {
		return ACL{}, err
	}
	return a, nil
}

func parseMatch(s string) (netip.Prefix, error) {
	if s == "*" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
