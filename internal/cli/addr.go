package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseAddr parses the value of a flag that takes an IP address: a literal such as ::1,
// 127.0.0.1 or 2001:db8::5, and an IPv6 literal in brackets as nginx and URLs write it
// ([::1]). Spaces around it are dropped. Brackets around an IPv4 address, a port, and a
// host name are refused, the error saying what to give. It only parses: each tool still
// checks what it accepts (an IPv4-mapped address, a zone, ::).
func ParseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			a, err := netip.ParseAddr(inner)
			switch {
			case err != nil:
			case a.Is4():
				return netip.Addr{}, fmt.Errorf("%q: brackets are for IPv6 literals only: drop them (%s)", s, a)
			default:
				return a, nil
			}
		}
	}
	a, err := netip.ParseAddr(s)
	if err == nil {
		return a, nil
	}
	if ap, perr := netip.ParseAddrPort(s); perr == nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address: give it without a port (%s)", s, ap.Addr())
	}
	return netip.Addr{}, fmt.Errorf("%q is not an IP address: give a literal such as ::1, [::1] or 127.0.0.1 (a host name is not accepted)", s)
}

// PortValue is the flag.Value of a port flag that sets *p: a number from 1 to 65535,
// anything else a usage error naming the flag; its default is *p.
func PortValue(p *int) flag.Value { return (*portValue)(p) }

type portValue int

func (v *portValue) String() string {
	if v == nil {
		return "0"
	}
	return strconv.Itoa(int(*v))
}

func (v *portValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return errors.New("port must be a number from 1 to 65535")
	}
	*v = portValue(n)
	return nil
}

// AddrValue is the flag.Value of an address flag that sets *p by [ParseAddr]
// (flag.FlagSet.Var(cli.AddrValue(&c.Gateway), …)); its default is *p.
func AddrValue(p *netip.Addr) flag.Value { return (*addrValue)(p) }

type addrValue netip.Addr

func (a *addrValue) String() string {
	if a == nil || !netip.Addr(*a).IsValid() {
		return ""
	}
	return netip.Addr(*a).String()
}

func (a *addrValue) Set(s string) error {
	v, err := ParseAddr(s)
	if err == nil {
		*a = addrValue(v)
	}
	return err
}
