package envfile

import "net/netip"

type netipPrefixT = netip.Prefix

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
