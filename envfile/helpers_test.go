package envfile

import (
	"net/netip"

	"golang.org/x/tools/txtar"
)

type netipPrefixT = netip.Prefix

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func loadArchive(name string) (*txtar.Archive, error) { return txtar.ParseFile(name) }
