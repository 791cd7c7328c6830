package bundle

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"net/netip"

	"github.com/v6kit/v6kit/units"
)

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+[]", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes and joins argv for a shell.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// InstallLines are the commands that copy the tree's files to their place on the host,
// each with its mode (and the mastodon owner for files under the home directory).
func (t *Tree) InstallLines(home string, skip ...string) []string {
	var out []string
	homeRel := strings.TrimPrefix(home, "/")
	for _, f := range t.Files() {
		if f.Path == NextStepsPath || contains(skip, f.Path) {
			continue
		}
		owner := ""
		if strings.HasPrefix(f.Path, homeRel+"/") {
			owner = "-o mastodon -g mastodon "
		}
		if strings.HasPrefix(f.Path, "etc/redis/") {
			owner = "-g redis "
		}
		out = append(out, fmt.Sprintf("install -D %s-m %04o %s %s", owner, f.Mode, ShellQuote(f.Path), ShellQuote("/"+f.Path)))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// NextSteps renders NEXT-STEPS.md: the commands the admin runs that v6kit does not,
// in order, each taken from the release (the mastodon catalogue) or from what was rendered.
func (h Host) NextSteps(t *Tree, info Info) []byte {
	var b bytes.Buffer
	rel := info.Release
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	code := func(lines ...string) {
		p("```sh")
		for _, l := range lines {
			p("%s", l)
		}
		p("```")
		p("")
	}
	live := path.Join(h.home(), "live")
	p("# Next steps for %s (Mastodon %s, %s)", h.webDomain(), rel, h.Family)
	p("")
	p("v6kit rendered and validated every file in this directory; these are the steps it leaves")
	p("to you. Run them as root on the host, from this directory, unless a step says otherwise.")
	p("Re-rendering is safe: secrets in .env.production are kept, and unchanged files are not touched.")
	p("")
	p("## 1. Put the files in place")
	p("")
	p("The tree mirrors the host's filesystem. pg_hba.conf is managed by `v6-pgsetup` in step 2;")
	p("`%s` shows the block it writes.", HBABlockPath)
	p("")
	code(t.InstallLines(h.home(), HBABlockPath, HBAPath)...)
	p("Redis reads the snippet when redis.conf includes it (the last include wins):")
	p("")
	code("grep -qx 'include /"+RedisPath+"' /etc/redis/redis.conf || echo 'include /"+RedisPath+"' >> /etc/redis/redis.conf",
		"systemctl restart redis-server postgresql")
	if text, cmds := firewallSteps(info); cmds != nil {
		p("%s", strings.Join(text, "\n"))
		p("")
		code(cmds...)
	}
	p("## 2. PostgreSQL: role, database and pg_hba.conf")
	p("")
	pg := []string{"v6-pgsetup", "--role", info.PG.Role, "--database", info.PG.Database,
		"--password-file", "/" + DBPasswordPath, "--mastodon", rel.Line()}
	if info.PG.NoIPv4 {
		pg = append(pg, "--no-ipv4")
	}
	code(ShellJoin(pg))
	p("## 3. Mastodon's dependencies, database and assets")
	p("")
	p("As the mastodon user in %s, with Mastodon %s checked out there:", live, rel)
	p("")
	steps := append([]string{"cd " + ShellQuote(live)}, rel.BundleInstallCommands()...)
	steps = append(steps, rel.JSInstallCommand(), rel.DBSetupCommand(), rel.AssetsCommand())
	code(steps...)
	p("## 4. The certificate")
	p("")
	p("nginx cannot load the TLS servers before the certificate exists, so enable the port-80")
	p("server alone first; v6-certs answers HTTP-01 through its webroot location (%s).", h.Webroot())
	p("")
	code("ln -sf /"+BootstrapPath+" /etc/nginx/sites-enabled/",
		"nginx -t && systemctl reload nginx",
		ShellJoin(info.CertCommand),
		"rm /etc/nginx/sites-enabled/"+path.Base(BootstrapPath),
		"ln -sf /"+SitePath+" /etc/nginx/sites-enabled/",
		"nginx -t && systemctl reload nginx")
	p("## 5. Start Mastodon")
	p("")
	if info.Plan != nil {
		code("systemctl daemon-reload",
			"systemctl enable "+strings.Join(info.Plan.Enable, " "),
			"systemctl start "+strings.Join(info.Plan.Start, " "))
	}
	p("## 6. The owner account")
	p("")
	p("As the mastodon user in %s (the password is printed once):", live)
	p("")
	code("cd "+ShellQuote(live), rel.OwnerCommand(cmpOr(h.Owner, "admin"), cmpOr(h.AdminEmail, "admin@"+h.LocalDomain)))
	p("## 7. Check it from outside")
	p("")
	probe := []string{"v6-probe", "--domain", h.LocalDomain}
	if h.webDomain() != h.LocalDomain {
		probe = append(probe, "--web-domain", h.webDomain())
	}
	fam := "v6only"
	if h.Family == DualStack {
		fam = "dual"
	}
	probe = append(probe, "--family", fam)
	local := append(append([]string{}, probe...), "--local", "--outbound",
		"--web-bind", netip.AddrPortFrom(bindOf(info.Deployment), uint16(cmpInt(h.WebPort, 3000))).String(),
		"--streaming-bind", netip.AddrPortFrom(bindOf(info.Deployment), uint16(cmpInt(h.StreamingPort, 4000))).String())
	if info.Env != nil {
		if v, ok := info.Env.Get("ALLOWED_PRIVATE_ADDRESSES"); ok {
			local = append(local, "--allowed-private-addresses", v)
		}
	}
	code(ShellJoin(probe), ShellJoin(local)+"   # on the host itself")
	return b.Bytes()
}

func bindOf(d units.Deployment) netip.Addr {
	if d.Bind.IsValid() {
		return d.Bind
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
