package bundle

import (
	"cmp"
	"flag"
	"net/netip"
	"strings"

	"github.com/v6kit/v6kit/firewall"
)

// FirewallPath is where the host's nftables ruleset goes ([Host.Firewall]).
const FirewallPath = "etc/nftables.d/mastodon.nft"

// FirewallConfig is the packet filter of an all-in-one host with [Host.Firewall] set:
// nginx's HTTP and HTTPS ports open to everyone, SSH as the field says, nothing else
// (PostgreSQL and Redis listen on loopback). ok is false when Firewall is nil.
func (h Host) FirewallConfig() (c firewall.Config, ok bool) {
	if h.Firewall == nil {
		return c, false
	}
	c.SSH = *h.Firewall
	if h.Family == DualStack {
		c.Family = firewall.DualStack
	}
	c.Services = []firewall.Service{{Name: "nginx", Public: true,
		Ports: []uint16{uint16(cmp.Or(h.HTTPPort, 80)), uint16(cmp.Or(h.HTTPSPort, 443))}}}
	return c, true
}

// Firewall adds the nftables ruleset of c at p, or records its problems.
func (t *Tree) Firewall(p string, c firewall.Config) {
	ps := c.Validate()
	t.Problem(p, ps)
	if ps.HasErrors() {
		return
	}
	b, err := c.Bytes()
	if err != nil {
		return
	}
	t.Add(File{Path: p, Data: b, Mode: 0o644})
}

// FirewallLoaded is the copy of the ruleset the firewall step loaded last.
const FirewallLoaded = "/var/lib/v6kit/mastodon.nft.loaded"

// firewallSteps are the install steps that check and load the ruleset, and load it at
// boot (none without [Host.Firewall]). Two steps, so a re-rendered ruleset reloads
// without appending its include to /etc/nftables.conf a second time.
func firewallSteps(info Info) []Step {
	if info.Firewall == nil {
		return nil
	}
	f := "/" + FirewallPath
	inc := "include \"" + f + "\""
	table := cmp.Or(info.Firewall.Table, firewall.DefaultTable)
	title := "the packet filter loaded: every incoming packet dropped but nginx's ports, SSH as rendered, loopback, replies and the ICMPv6 RFC 4890 keeps"
	if info.Firewall.SSH.Any {
		title += " (SSH is open to every address: re-render with --ssh-from YOUR_ADMIN_PREFIX to narrow it)"
	}
	fix := "nft -c -f " + f + " says what nft refused; Debian's nftables package provides /etc/nftables.conf and nftables.service"
	return []Step{{ID: "firewall", Section: "The files in place", Title: title,
		Changes: "loads " + f + " with nft, keeping the copy it loaded as " + FirewallLoaded,
		// Loaded means: the table's input chain is there, and what was loaded is the file
		// installed now (a re-rendered ruleset, a narrower --ssh-from, is to do again).
		Check: []Cmd{{Args: []string{"nft", "list", "chain", "inet", table, "input"}},
			{Args: []string{"cmp", "-s", "--", f, FirewallLoaded}}},
		Run: []Cmd{{Args: []string{"nft", "-c", "-f", f}}, {Args: []string{"nft", "-f", f}},
			{Args: []string{"install", "-D", "-m", "0644", "--", f, FirewallLoaded}}},
		Fix: fix},
		{ID: "firewall-boot", Section: "The files in place", Title: "the packet filter loaded at boot",
			Changes: "includes " + f + " from /etc/nftables.conf and enables nftables.service",
			Check: []Cmd{{Args: []string{"grep", "-qxF", "--", inc, "/etc/nftables.conf"}},
				{Args: []string{"systemctl", "is-enabled", "--quiet", "nftables.service"}}},
			Run: []Cmd{{Args: []string{"sed", "-i", "$a " + inc, "/etc/nftables.conf"}},
				{Args: []string{"systemctl", "enable", "--quiet", "nftables.service"}}},
			Fix: fix}}
}

// sshFromFlag binds --ssh-from: the admin prefixes (comma-separated), any or off; it
// turns [Host.Firewall] on.
func sshFromFlag(fs *flag.FlagSet, h *Host) {
	fs.Func("ssh-from", "render the nftables ruleset, with SSH from these admin `PREFIX`es (comma-separated), any, or off", func(s string) error {
		ssh := &firewall.SSH{}
		switch s {
		case "any":
			ssh.Any = true
		case "off":
			ssh.Off = true
		default:
			for _, x := range strings.Split(s, ",") {
				p, err := netip.ParsePrefix(strings.TrimSpace(x))
				if err != nil {
					return err
				}
				ssh.From = append(ssh.From, p)
			}
		}
		h.Firewall = ssh
		return nil
	})
}
