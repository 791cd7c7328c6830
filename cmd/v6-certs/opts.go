package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/units"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// opts holds every flag; each command binds the ones it uses.
type opts struct {
	dir, server, caCert, email, eabKID, eabHMACFile  string
	staging, jsonOut, separate, force, verbose       bool
	domains, certNames                               multi
	challenge, webroot, listen, dnsProvider, profile string
	keyType, certbot, deployHook, checkCmd, family   string
	dbusAddress                                      string
	reloadNginx, logProgress, keepAutorenew          bool
	concurrency, keep                                int
	lockWait                                         time.Duration
	lockWaiting                                      func(lock string, pid int)
	lock                                             *cli.Lock
	fam                                              cli.Family
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "dir", acme.DefaultRoot, "configuration directory (certbot layout)")
	fs.BoolVar(&o.jsonOut, "json", false, "print JSON")
	fs.StringVar(&o.server, "server", acme.LetsEncrypt, "ACME directory URL (https)")
	fs.BoolVar(&o.staging, "staging", false, "use Let's Encrypt staging ("+acme.LetsEncryptStaging+")")
	fs.StringVar(&o.caCert, "ca-cert", "", "PEM file of an extra CA trusted for the ACME server's own TLS")
	fs.IntVar(&o.concurrency, "concurrency", 0, "orders in flight at once (0: 20)")
	fs.DurationVar(&o.lockWait, "lock-wait", 0, "wait this long for another run's lock (default "+fsutil.DefaultLockWait.String()+"; 0 or --no-wait: exit at once)")
	fs.BoolVar(&o.logProgress, "log", false, "log progress (orders, ARI checks, installs) to stderr")
}

func (o *opts) obtainFlags(fs *flag.FlagSet) {
	fs.Var(&o.domains, "d", "domain name or IP address (repeatable; IDN allowed)")
	fs.BoolVar(&o.separate, "separate", false, "one certificate per -d instead of one for all")
	fs.Var(&o.certNames, "cert-name", "lineage name (default: the first name)")
	fs.StringVar(&o.email, "email", "", "account contact e-mail (optional)")
	fs.StringVar(&o.eabKID, "eab-kid", "", "external account binding key ID")
	fs.StringVar(&o.eabHMACFile, "eab-hmac-file", "", "`FILE` holding the external account binding HMAC key (base64url); a file, not a flag, so ps never shows it")
	fs.StringVar(&o.challenge, "challenge", "http-01", "http-01, tls-alpn-01 or dns-01")
	fs.StringVar(&o.webroot, "webroot", "", "http-01: write the challenge into DIR/.well-known/acme-challenge/ (served by nginx)")
	fs.StringVar(&o.listen, "listen", "", "built-in challenge server address (default [::]:80, tls-alpn-01 [::]:443)")
	fs.StringVar(&o.dnsProvider, "dns-provider", "", "dns-01 provider: "+strings.Join(acme.DNSProviders(), ", "))
	fs.StringVar(&o.profile, "profile", "", "ACME profile (e.g. tlsserver, shortlived; default: the CA's)")
	fs.StringVar(&o.keyType, "key-type", "ec256", "ec256, ec384, rsa2048, rsa3072 or rsa4096")
	fs.BoolVar(&o.force, "force", false, "issue even if the lineage exists and is not due")
}

func (o *opts) deployFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.keep, "keep", 0, "versions older than the live one kept per lineage after a switch (0: 5, as certbot; -1: all)")
	fs.StringVar(&o.deployHook, "deploy-hook", "", "shell command run once after certificates changed (after --check-cmd passes)")
	fs.BoolVar(&o.reloadNginx, "reload-nginx", false, "after a change: nginx -t, then reload nginx.service through systemd's D-Bus API")
	fs.StringVar(&o.dbusAddress, "dbus-address", "", "with --reload-nginx: the systemd manager's D-Bus `ADDRESS` (default: the system's systemd)")
	fs.StringVar(&o.checkCmd, "check-cmd", "", "shell command that must pass before the reload (default with --reload-nginx: nginx -t)")
}

func (o *opts) config(cmd string, stderr io.Writer) (acme.Config, error) {
	cfg := acme.Config{Root: o.dir, Server: o.server, Email: o.email, EAB: acme.EAB{KID: o.eabKID},
		KeyType: acme.KeyType(o.keyType), Profile: o.profile, Concurrency: o.concurrency, LockWait: o.lockWait, LockWaiting: o.lockWaiting, Keep: o.keep, UserAgent: "v6-certs"}
	if o.eabHMACFile != "" {
		b, err := os.ReadFile(o.eabHMACFile)
		if err != nil {
			return cfg, fmt.Errorf("--eab-hmac-file: %w", err)
		}
		cfg.EAB.HMAC = strings.TrimSpace(string(b))
		if cfg.EAB.HMAC == "" || strings.ContainsAny(cfg.EAB.HMAC, "\r\n\t ") {
			return cfg, fmt.Errorf("--eab-hmac-file %s: want one line holding the base64url key the CA gave you", o.eabHMACFile)
		}
	}
	if o.staging {
		if o.server != acme.LetsEncrypt {
			return cfg, errors.New("--staging and --server exclude each other")
		}
		cfg.Server = acme.LetsEncryptStaging
	}
	if o.certbot != "" {
		cfg.Root = o.certbot
	}
	if o.caCert != "" {
		b, err := os.ReadFile(o.caCert)
		if err != nil {
			return cfg, fmt.Errorf("--ca-cert: %w", err)
		}
		cfg.CACertPEM = b
	}
	ch := acme.Challenge{Type: acme.ChallengeType(o.challenge), Webroot: o.webroot, DNSProvider: o.dnsProvider, DNSCredentials: dnsEnv()}
	if cmd == "obtain" {
		f, err := acme.ParseFamily(o.family)
		if err != nil {
			return cfg, fmt.Errorf("--family: %w", err)
		}
		ch.Family = f
		if o.listen != "" {
			ap, err := netip.ParseAddrPort(o.listen)
			if err != nil {
				return cfg, fmt.Errorf("--listen %q: %w: %v", o.listen, acme.ErrListen, err)
			}
			ch.Listen = ap
		}
		if o.webroot != "" && o.listen != "" {
			return cfg, errors.New("--webroot and --listen exclude each other: nginx serves the webroot, or v6-certs listens itself")
		}
	}
	cfg.Challenge = ch
	if cmd != "obtain" {
		cfg.Challenge = acme.Challenge{DNSCredentials: ch.DNSCredentials}
	}
	if o.deployHook != "" && o.reloadNginx {
		return cfg, errors.New("--deploy-hook and --reload-nginx exclude each other")
	}
	if o.checkCmd != "" {
		cfg.Deploy.Check = []string{"/bin/sh", "-c", o.checkCmd}
	}
	if o.reloadNginx {
		if o.checkCmd == "" {
			cfg.Deploy.Check = []string{"nginx", "-t", "-q"}
		}
		cfg.Deploy.Reloader = units.UnitReloader{Unit: "nginx.service", Address: o.dbusAddress}
		cfg.Deploy.Name = "nginx.service"
	}
	if o.deployHook != "" {
		cfg.Deploy.Reload = []string{"/bin/sh", "-c", o.deployHook}
		cfg.Deploy.Name = "the deploy hook: " + o.deployHook
	}
	if o.logProgress {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if err := cfg.Validate().Err(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// dnsEnv collects DNS provider settings from the environment (the library never reads it).
func dnsEnv() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		for _, p := range []string{"CLOUDFLARE_", "CF_", "DNSUPDATE_", "RFC2136_", "CHALLTESTSRV_"} {
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out
}

func (o *opts) obtain(ctx context.Context, cfg acme.Config, stdout, stderr io.Writer) int {
	if len(o.domains) == 0 {
		fmt.Fprintln(stderr, "v6-certs obtain: no names: add -d NAME")
		return 2
	}
	var reqs []acme.Request
	if o.separate {
		if len(o.certNames) > 0 {
			fmt.Fprintln(stderr, "v6-certs obtain: --cert-name names one lineage; drop it with --separate")
			return 2
		}
		for _, d := range o.domains {
			reqs = append(reqs, acme.Request{Names: []string{d}, Force: o.force})
		}
	} else {
		r := acme.Request{Names: o.domains, Force: o.force}
		if len(o.certNames) > 1 {
			fmt.Fprintln(stderr, "v6-certs obtain: give --cert-name once")
			return 2
		} else if len(o.certNames) == 1 {
			r.CertName = o.certNames[0]
		}
		reqs = append(reqs, r)
	}
	c, err := acme.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "v6-certs obtain: %v\n", err)
		return 2
	}
	rep, err := c.Obtain(ctx, reqs...)
	return o.finish("obtain", c, rep, err, true, stdout, stderr)
}

func (o *opts) renew(ctx context.Context, cfg acme.Config, stdout, stderr io.Writer) int {
	c, err := acme.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "v6-certs renew: %v\n", err)
		return 2
	}
	rep, err := c.Renew(ctx, acme.RenewOptions{Names: o.certNames, Force: o.force})
	if errors.Is(err, acme.ErrLocked) && cfg.LockWait == 0 {
		fmt.Fprintf(stderr, "v6-certs renew: %v\n", err)
		return 0
	}
	return o.finish("renew", c, rep, err, o.verbose, stdout, stderr)
}

func (o *opts) finish(cmd string, c *acme.Client, rep acme.Report, err error, all bool, stdout, stderr io.Writer) int {
	jsonFailed := false
	if o.jsonOut {
		jsonFailed = encodeJSON(stdout, stderr, rep) != 0
	} else {
		for _, x := range rep.Outcomes {
			switch {
			case x.Action == acme.Failed:
				fmt.Fprintf(stderr, "failed   %s: %s\n", x.Name, x.Error)
			case x.Action != acme.Kept || all:
				fmt.Fprintf(stdout, "%-8s %s  %s  expires %s  %s\n", x.Action, x.Name, strings.Join(x.Names, ","),
					x.NotAfter.UTC().Format(time.RFC3339), c.Store().LiveDir(x.Name)+"/fullchain.pem")
			}
			for _, w := range x.Warnings {
				fmt.Fprintf(stderr, "warning  %s: %s\n", x.Name, w)
			}
		}
		for _, p := range rep.Pending {
			fmt.Fprintln(stdout, pendingLine(p))
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(stderr, "warning  %s\n", w)
		}
		if rep.DeployError != "" {
			fmt.Fprintf(stderr, "deploy: %s\n", rep.DeployError)
		} else if rep.Deployed {
			// Only what ran: "check passed: nginx -t -q, reloaded nginx.service".
			fmt.Fprintf(stdout, "deployed: %s\n", strings.Join(rep.DeploySteps, ", "))
		}
	}
	if err != nil {
		if len(rep.Outcomes) == 0 && rep.DeployError == "" {
			fmt.Fprintf(stderr, "v6-certs %s: %v\n", cmd, err)
			return exitFor(err)
		}
		// The run ran: some lineages (or the deploy) failed, others may have renewed.
		// That is 1, never 2, whatever the failure's kind.
		return 1
	}
	if jsonFailed {
		return 1
	}
	return 0
}

// pendingLine describes a deploy an earlier run left pending with what its marker
// holds: an unreadable one (the run warns about it) gives only the lineage's name.
func pendingLine(p acme.PendingDeploy) string {
	what, why := pendingState(p)
	return fmt.Sprintf("pending  %s  %s, deploying it now (%s)", p.Name, what, why)
}

// pendingState says which version a marker holds and why it is still pending.
func pendingState(p acme.PendingDeploy) (what, why string) {
	what = "live"
	if p.Version > 0 {
		what = fmt.Sprintf("version %d live", p.Version)
	}
	if !p.Switched.IsZero() {
		what += " since " + p.Switched.UTC().Format(time.RFC3339)
	}
	why = "the run that switched it ended before its deploy"
	switch {
	case p.Failures > 0:
		why = fmt.Sprintf("%d failed deploy(s), last: %s", p.Failures, p.LastError)
	case p.Version == 0 && p.Switched.IsZero():
		what, why = "marker unreadable", "see the warning about it"
	}
	return what, why
}

func (o *opts) list(cfg acme.Config, stdout, stderr io.Writer) int {
	st := &acme.Store{Root: cfg.Root}
	if err := st.CheckUsable(); err != nil {
		if o.jsonOut {
			if code := encodeJSON(stdout, stderr, map[string]any{"lineages": []any{}, "problems": []string{err.Error()}}); code != 0 {
				return code
			}
		}
		fmt.Fprintf(stderr, "v6-certs list: %v\n", err)
		return exitFor(err)
	}
	ls, ps := st.List()
	now := time.Now()
	type row struct {
		acme.Lineage
		Due acme.Due `json:"due"`
	}
	rows := make([]row, 0, len(ls))
	for _, l := range ls {
		rows = append(rows, row{l, acme.DueAt(l, acme.ARICertID(l.Leaf), now)})
	}
	if o.jsonOut {
		if code := encodeJSON(stdout, stderr, map[string]any{"lineages": rows, "problems": ps}); code != 0 {
			return code
		}
		for _, p := range ps {
			fmt.Fprintf(stderr, "%s\n", p.Error())
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tEXPIRES\tPROFILE\tARI WINDOW\tRENEW AT\tNEXT CHECK\tVERSIONS\tNAMES")
		for _, r := range rows {
			win := "-"
			if a := r.Meta.ARI; a != nil && a.CertID == acme.ARICertID(r.Leaf) {
				win = a.Start.UTC().Format("2006-01-02 15:04") + " – " + a.End.UTC().Format("2006-01-02 15:04")
			}
			prof := r.Meta.Profile
			if prof == "" {
				prof = "(default)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s)\t%s\t%d\t%s\n", r.Name, r.NotAfter.UTC().Format("2006-01-02 15:04"), prof, win,
				r.Due.At.UTC().Format("2006-01-02 15:04"), r.Due.Reason, r.Due.NextCheck.UTC().Format("2006-01-02 15:04"), r.Versions, strings.Join(r.Names, ","))
		}
		_ = tw.Flush()
		for _, r := range rows {
			if r.Pending != nil {
				what, why := pendingState(*r.Pending)
				fmt.Fprintf(stdout, "deploy pending  %s  %s, not served yet (%s): the next renew deploys it\n", r.Name, what, why)
			}
		}
		for _, p := range ps {
			fmt.Fprintf(stderr, "%s\n", p.Error())
		}
	}
	// A damaged lineage, a broken key pair or a file this user may not read: exit 1.
	if len(ps.Errors())+len(ps.Warnings()) > 0 {
		return 1
	}
	return 0
}

// encodeJSON prints v as indented JSON; a failed write is an error (exit 1).
func encodeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "v6-certs: writing the JSON result: %v\n", err)
		return 1
	}
	return 0
}

func (o *opts) importCertbot(cfg acme.Config, stdout, stderr io.Writer) int {
	if o.certbot == "" {
		fmt.Fprintln(stderr, "v6-certs import: give --certbot DIR (certbot's configuration directory, usually /etc/letsencrypt)")
		return 2
	}
	st := &acme.Store{Root: o.certbot}
	opt := acme.ImportOptions{KeepCertbotAutorenew: o.keepAutorenew}
	if o.webroot != "" || o.challenge != "" {
		opt.Challenge = acme.Challenge{Type: acme.ChallengeType(o.challenge), Webroot: o.webroot}
		if opt.Challenge.Type == "" {
			opt.Challenge.Type = acme.HTTP01
		}
	}
	outs, ps := st.ImportCertbot(opt)
	still := 0
	for _, x := range outs {
		fmt.Fprintf(stdout, "%-8s %s  %s  expires %s\n", x.Action, x.Name, strings.Join(x.Names, ","), x.NotAfter.UTC().Format(time.RFC3339))
		switch {
		case x.CertbotAutorenewOff && x.Backup != "":
			fmt.Fprintf(stdout, "         certbot autorenew = False in renewal/%s.conf (backup: %s)\n", x.Name, x.Backup)
		case x.CertbotAutorenewOff:
			fmt.Fprintf(stdout, "         certbot autorenew already off in renewal/%s.conf\n", x.Name)
		default:
			still++
		}
		for _, w := range x.Warnings {
			fmt.Fprintf(stderr, "warning  %s: %s\n", x.Name, w)
		}
	}
	for _, p := range ps {
		fmt.Fprintf(stderr, "%s\n", p.Error())
	}
	if still > 0 {
		fmt.Fprintf(stderr, "note: certbot still renews %d of these too: disable certbot.timer or set autorenew = False under [renewalparams] in their renewal/*.conf\n", still)
	}
	if ps.HasErrors() {
		return 1
	}
	return 0
}
