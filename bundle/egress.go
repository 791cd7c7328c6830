package bundle

import (
	"flag"
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/v6kit/v6kit/egress"
	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/cli"
)

// Egress is the outbound path of an IPv6-only host ([egress]): with a Path other than
// None, [RunHost] renders the dual-stack gateway's bundle as a second tree, GatewayDir
// under --out, and the host's .env.production (and, for NAT64, its resolv.conf) agree
// with it. The zero value renders nothing (the host uses its provider's NAT64, or none).
type Egress struct {
	// Path is egress.ViaNAT64, egress.ViaProxy or egress.None.
	Path egress.Path
	// Gateway is the gateway's IPv6 address on the host's link: the DNS64 resolver
	// (nat64) or the proxy's address (proxy). Required with a Path.
	Gateway netip.Addr
	// Clients are the Mastodon host's IPv6 prefixes, the only sources the gateway
	// admits. Required with a Path.
	Clients []netip.Prefix
	// WAN is the gateway's uplink (nat64 masquerade). Empty: every interface.
	WAN string
	// LAN lists the gateway's own IPv4 networks, refused like every non-global one.
	LAN []netip.Prefix
	// ProxyPort is squid's port. Zero: 3128.
	ProxyPort uint16
}

// Gateway tree paths.
const (
	// GatewayDir is the gateway's tree under --out.
	GatewayDir = "gateway"
	// HostResolvConfPath is the Mastodon host's resolv.conf with the NAT64 path.
	HostResolvConfPath = egress.ResolvConfPath
)

// EgressFlags binds the --egress flags to e; the values already in e are the defaults.
func EgressFlags(fs *flag.FlagSet, e *Egress) {
	fs.Func("egress", "outbound path rendered as a second tree under --out/"+GatewayDir+": nat64, proxy or none (default "+e.Path.String()+")", func(s string) (err error) {
		e.Path, err = egress.ParsePath(s)
		return err
	})
	fs.Var(cli.AddrValue(&e.Gateway), "egress-gateway", "the gateway's IPv6 address on this host's link (DNS64 or proxy)")
	fs.Func("egress-clients", "this host's IPv6 prefix(es), comma-separated, admitted by the gateway (default "+prefixes(e.Clients)+")", func(s string) error {
		e.Clients = nil
		return parsePrefixes(s, &e.Clients)
	})
	fs.StringVar(&e.WAN, "egress-wan", e.WAN, "the gateway's uplink interface (nat64)")
	fs.Func("egress-lan", "the gateway's own IPv4 networks, comma-separated, refused (default "+prefixes(e.LAN)+")", func(s string) error {
		e.LAN = nil
		return parsePrefixes(s, &e.LAN)
	})
}

func parsePrefixes(s string, dst *[]netip.Prefix) error {
	for _, item := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(item))
		if err != nil {
			return err
		}
		*dst = append(*dst, p)
	}
	return nil
}

func prefixes(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// NAT64Gateway is the egress.NAT64 the host's Egress and NAT64 prefix describe.
func (h Host) NAT64Gateway() egress.NAT64 {
	n := egress.NAT64{Release: h.Release.OrNewest(), Prefix: h.NAT64, Clients: h.Egress.Clients, WAN: h.Egress.WAN, LAN: h.Egress.LAN}
	if h.Egress.Gateway.IsValid() {
		n.DNS64 = []netip.Addr{h.Egress.Gateway}
	}
	return n
}

// EgressProxy is the egress.Proxy the host's Egress describes.
func (h Host) EgressProxy() egress.Proxy {
	port := h.Egress.ProxyPort
	if port == 0 {
		port = 3128
	}
	p := egress.Proxy{Release: h.Release.OrNewest(), Clients: h.Egress.Clients}
	if h.Egress.Gateway.IsValid() {
		p.URL = "http://" + netip.AddrPortFrom(h.Egress.Gateway, port).String()
	}
	return p
}

// egressEnv makes the host's .env.production and files agree with its outbound path;
// it returns the gateway's .env.production lines (for the gateway's NEXT-STEPS.md).
func (h Host) egressEnv(t *Tree, env *envfile.Config, opt *envfile.Options) []egress.EnvVar {
	var vars []egress.EnvVar
	switch h.Egress.Path {
	case egress.None:
		return nil
	case egress.ViaNAT64:
		n := h.NAT64Gateway()
		vars = n.Env()
		env.AllowedPrivateAddresses = nil
		t.Add(File{Path: HostResolvConfPath, Data: n.ResolvConf(), Mode: 0o644})
	case egress.ViaProxy:
		p := h.EgressProxy()
		vars = p.Env()
		// with http_proxy Mastodon checks nothing itself: no prefix to allow
		env.AllowedPrivateAddresses = nil
		opt.NAT64 = netip.Prefix{}
	}
	for _, v := range vars {
		switch v.Key {
		case "ALLOWED_PRIVATE_ADDRESSES":
			ps, err := envfile.ParsePrefixes(v.Value)
			if err != nil {
				t.Problems.Errorf("egress", egress.ErrPrefix, "%v", err)
			}
			env.AllowedPrivateAddresses = ps
		default:
			env.Extra = append(env.Extra, envfile.Var{Key: v.Key, Value: v.Value})
		}
	}
	return vars
}

// ComposeGateway renders the outbound path's gateway into gw: the egress bundle's files
// and a NEXT-STEPS.md. Problems are recorded on gw under "egress".
func (h Host) ComposeGateway(gw *Tree) {
	if h.Family != IPv6Only {
		gw.Problems.Errorf("egress", egress.ErrPath, "--egress %s on a dual-stack host: it reaches IPv4-only peers directly; use --egress none", h.Egress.Path)
		return
	}
	var (
		files []egress.File
		vars  []egress.EnvVar
	)
	switch h.Egress.Path {
	case egress.ViaNAT64:
		n := h.NAT64Gateway()
		fs, ps := n.Files()
		files = fs
		gw.Problem("egress", ps)
		vars = n.Env()
	case egress.ViaProxy:
		p := h.EgressProxy()
		fs, ps := p.Files()
		files = fs
		gw.Problem("egress", ps)
		vars = p.Env()
	default:
		return
	}
	for _, f := range files {
		gw.Add(File{Path: f.Path, Data: f.Data, Mode: f.Mode})
	}
	if len(files) > 0 {
		gw.AddSteps(h.gatewayDoc(gw, vars))
	}
}

// GatewaySteps are the install steps of the gateway tree gw: the Debian packages, the
// files, then the services started (NAT64: TAYGA's unit and unbound; proxy: squid).
func (h Host) GatewaySteps(gw *Tree) []Step {
	const pkgs, svc = "The packages and the files", "Start it"
	var names []string
	switch h.Egress.Path {
	case egress.ViaNAT64:
		names = []string{"tayga", "unbound", "nftables"}
	case egress.ViaProxy:
		names = []string{"squid"}
	default:
		return nil
	}
	var check []Cmd
	for _, n := range names {
		check = append(check, Cmd{Args: []string{"dpkg-query", "--show", "--showformat=${Status}", n}, Want: "install ok installed"})
	}
	s := []Step{{ID: "packages", Section: pkgs, Title: "Debian's packages: " + strings.Join(names, ", "),
		Changes: "installs " + strings.Join(names, " ") + " with apt-get",
		Check:   check,
		Run:     []Cmd{{Env: []string{"DEBIAN_FRONTEND=noninteractive"}, Args: append([]string{"apt-get", "install", "--yes", "--"}, names...)}},
		Fix:     "apt-get must reach a Debian mirror (this box is dual-stack); the packages are in Debian 12's main"}}
	for _, st := range gw.FileSteps("", "") {
		st.Section = pkgs
		s = append(s, st)
	}
	switch h.Egress.Path {
	case egress.ViaNAT64:
		unit := path.Base(egress.NAT64UnitPath)
		nat64 := treeFiles(gw, egress.NAT64UnitPath, "etc/tayga/", "etc/nftables.d/")
		dns64 := treeFiles(gw, "etc/unbound/")
		s = append(s,
			Step{ID: "nat64", Section: svc, Title: "TAYGA and its nftables table, enabled and running (" + unit + ")",
				Changes: "reloads systemd, enables and (re)starts " + unit,
				Check: append(Installed(nat64...), Cmd{Args: []string{"systemctl", "is-enabled", "--quiet", unit}},
					Cmd{Args: []string{"systemctl", "show", "-P", "NeedDaemonReload", unit}, Want: "no"},
					Cmd{Args: []string{"systemctl", "is-active", "--quiet", unit}},
					StartedAfter(unit, nat64...)),
				Run: []Cmd{{Args: []string{"systemctl", "daemon-reload"}},
					{Args: []string{"systemctl", "enable", "--quiet", unit}},
					{Args: []string{"systemctl", "restart", unit}}},
				Fix: "journalctl -u " + unit + " says which command failed (tayga, ip or nft)"},
			Step{ID: "dns64", Section: svc, Title: "unbound answering with the DNS64 snippet",
				Changes: "restarts unbound",
				Check: append(Installed(dns64...), Cmd{Args: []string{"unbound-checkconf"}},
					Cmd{Args: []string{"systemctl", "is-active", "--quiet", "unbound.service"}},
					StartedAfter("unbound.service", dns64...)),
				Run: []Cmd{{Args: []string{"unbound-checkconf"}}, {Args: []string{"systemctl", "restart", "unbound.service"}}},
				Fix: "unbound-checkconf names the line it refused; journalctl -u unbound says why it did not start"})
	case egress.ViaProxy:
		squid := treeFiles(gw, "etc/squid/")
		s = append(s, Step{ID: "squid", Section: svc, Title: "squid running with the rendered squid.conf",
			Changes: "restarts squid",
			Check: append(Installed(squid...), Cmd{Args: []string{"squid", "-k", "parse"}},
				Cmd{Args: []string{"systemctl", "is-active", "--quiet", "squid.service"}},
				StartedAfter("squid.service", squid...)),
			Run: []Cmd{{Args: []string{"squid", "-k", "parse"}}, {Args: []string{"systemctl", "restart", "squid.service"}}},
			Fix: "squid -k parse names the line it refused; journalctl -u squid says why it did not start"})
	}
	return s
}

// GatewayProbe is the v6-probe command line that proves the outbound path from the
// Mastodon host (the last section of the gateway's NEXT-STEPS.md).
func (h Host) GatewayProbe() []string {
	rel := h.Release.OrNewest()
	probe := []string{"v6-probe", "--domain", h.LocalDomain, "--outbound", "--mastodon", rel.String()}
	if h.Egress.Path == egress.ViaProxy {
		probe = append(probe, "--proxy", h.EgressProxy().URL)
	} else {
		for _, v := range h.NAT64Gateway().Env() {
			if v.Key == "ALLOWED_PRIVATE_ADDRESSES" {
				probe = append(probe, "--allowed-private-addresses", v.Value)
			}
		}
	}
	if len(h.Egress.LAN) > 0 && h.Egress.LAN[0].Addr().Is4() {
		probe = append(probe, "--ssrf-target", netip.AddrPortFrom(h.Egress.LAN[0].Addr().Next(), 80).String())
	}
	return probe
}

// gatewayDoc is the gateway's NEXT-STEPS.md as data: the steps, then what the Mastodon
// host already holds and the probe that proves the path from it.
func (h Host) gatewayDoc(gw *Tree, vars []egress.EnvVar) StepsDoc {
	rel := h.Release.OrNewest()
	var env []string
	for _, v := range vars {
		for _, c := range v.Comment {
			env = append(env, "# "+c)
		}
		env = append(env, v.Key+"="+v.Value)
	}
	reach := "outbound.reach, outbound.private"
	resolv := ""
	if h.Egress.Path == egress.ViaProxy {
		reach = "outbound.proxy"
	} else {
		resolv = ", and /" + HostResolvConfPath + " names the DNS64"
	}
	return StepsDoc{
		Title: fmt.Sprintf("The %s gateway of %s", h.Egress.Path, h.webDomain()),
		Intro: []string{
			"A dual-stack Debian box (the router or a gateway VM), never the IPv6-only Mastodon host.",
			"Run the steps as root on it, from this directory: each command is one argv, quoted for the",
			"shell. `v6-install --bundle . --plan` shows which are done, `--apply` runs the others",
			"(" + StepsPath + " holds the same steps).",
		},
		Steps: h.GatewaySteps(gw),
		After: []ManualSection{{Heading: "Prove the path from the Mastodon host",
			Text: fmt.Sprintf("On the Mastodon host, .env.production already holds these lines (Mastodon %s)%s; "+
				"restart web and sidekiq there, then run the probe:", rel, resolv),
			Footer:   "outbound.path, " + reach + " and outbound.ssrf must pass.",
			Commands: []ManualCommand{{Argv: h.GatewayProbe()}},
			Literal:  env}},
	}
}
