// Command v6-certs obtains and renews ACME certificates over IPv6 in certbot's layout.
//
//	v6-certs obtain -d NAME [-d NAME…] [--separate] [--email ADDR] [--challenge http-01|tls-alpn-01|dns-01]
//	                [--webroot DIR | --listen [::]:80] [--dns-provider cloudflare] [--profile P]
//	                [--key-type ec256] [--server URL | --staging] [--dir /etc/letsencrypt] [--ca-cert FILE]
//	v6-certs renew  [--dir …] [--deploy-hook CMD | --reload-nginx] [--cert-name N]… [--force] [--keep 5]
//	v6-certs list   [--dir …] [--json]            (with how many versions each lineage holds)
//	v6-certs import --certbot /etc/letsencrypt [--webroot DIR] [--keep-certbot-autorenew]
//
// obtain and renew keep the live version and the --keep (default 5) versions before it
// of each lineage they switch, and remove older ones (-1 keeps all); a removal that fails
// is printed as a warning and does not change the exit code. A deploy (check, then
// hook or reload) that fails, or a run killed between a switch and its deploy, leaves
// renewal/NAME.v6-certs.deploy-pending: the next run prints "pending NAME …" and deploys
// even when nothing is due ("pending_deploys" in --json).
//
// import sets autorenew = False under [renewalparams] in each adopted certbot
// renewal/NAME.conf (one line added or changed, the old file kept as
// NAME.conf.v6kit-TIMESTAMP) so certbot's timer stops renewing what v6-certs now
// renews; a conf it cannot edit is left untouched and named in a warning.
//
// renew and list never create --dir: a directory that does not exist is exit 2, one
// with no v6-certs lineage and no account is exit 1. Without a deploy step nothing
// is owed, so no deploy-pending marker is written; "deployed:" names the steps that ran.
//
// list and renew check the whole live set nginx and certbot-layout readers use:
// cert.pem, privkey.pem, and fullchain.pem and chain.pem (regular files, parsable,
// fullchain.pem = cert.pem + chain.pem, its first certificate cert.pem's). A broken key
// or chain is named by list (exit 1) and renewed at once by renew, as nothing else
// repairs it. A deploy-pending marker that is not a regular file (a FIFO, a directory)
// fails its lineage in renew, with the file and the fix; it is never read or removed.
// SIGINT or SIGTERM while renew waits for another run's lock ends it with "interrupted
// … while waiting for the lock LOCK held by PID N: nothing was done" (exit 1).
//
// Exit codes: 0 success (including nothing due, and a renew that found another run
// holding the lock); 1 a certificate, the CA, the lock wait (also one interrupted by a
// signal) or the deploy step failed, or a lineage's file is not what it must be (the
// current certificates stay in place; a run that started on its lineages is 1
// whatever failed), or list found a problem (a damaged lineage, a broken key pair or
// chain, a marker that is not a file, a file it may not read); 2 usage or invalid
// input (nothing was done).
// DNS provider credentials come from the environment (CLOUDFLARE_DNS_API_TOKEN,
// DNSUPDATE_NAMESERVER, …).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/v6kit/v6kit/acme"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/internal/fsutil"
)

// synopses are the usage lines of the commands, printed by v6-certs CMD -h.
var synopses = map[string]string{
	"obtain": "obtain -d NAME [-d NAME…] [--email ADDR] [--challenge http-01|tls-alpn-01|dns-01] [--webroot DIR | --listen ADDR] [--dir DIR] [flags]",
	"renew":  "renew [--dir DIR] [--deploy-hook CMD | --reload-nginx] [--cert-name N]… [--force] [--keep N] [flags]",
	"list":   "list [--dir DIR] [--json]",
	"import": "import --certbot DIR [--webroot DIR] [--keep-certbot-autorenew] [flags]",
}

// exits are the exit codes every command documents.
var exits = []cli.Exit{
	{Code: 0, What: "success (including nothing due, and a renew --no-wait that found another run holding the lock: that run does the work)"},
	{Code: 1, What: "a certificate, the CA, the lock (held by another run under --no-wait, or still after --lock-wait) or the deploy step failed (current certificates stay); list found a problem"},
	{Code: 2, What: "usage or invalid input (nothing was done)"},
}

func main() { os.Exit(cli.Main("v6-certs", run)) }

// stopGrace is how long a signalled run may take to end by itself.
const stopGrace = 10 * time.Second

const usage = `usage: v6-certs obtain|renew|list|import [flags]   (v6-certs CMD -h for flags)
`

const helpBody = `
flags:
  obtain  -d NAME… [--email ADDR] [--challenge …] [--webroot DIR | --listen ADDR] [--family ipv6-only|dual-stack|ipv4-only] [--dir DIR]
  renew   [--dir DIR] [--deploy-hook CMD | --reload-nginx] [--cert-name N]… [--force] [--keep N]
  list    [--dir DIR] [--json]
  import  --certbot DIR [--webroot DIR] [--keep-certbot-autorenew]
  (v6-certs CMD -h lists every flag of CMD)

exit codes:
  0  success (including nothing due, and a renew --no-wait that found another run holding the lock)
  1  a certificate, the CA, the lock (--no-wait, or still held after --lock-wait) or the deploy step failed (current certificates stay)
  2  usage or invalid input (nothing was done)
`

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// The help every v6kit tool prints: synopsis, then flags (per command), then exit codes.
		fmt.Fprint(stdout, usage+helpBody)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGTERM/SIGINT cancel ctx: hooks are killed, orders and waits end, the lock is
	// released on return. Should anything still hold the run, exit anyway after a
	// grace period (the kernel drops the flock with the process).
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-ctx.Done():
		case <-returned:
			return
		}
		select {
		case <-time.After(stopGrace):
			fmt.Fprintf(stderr, "v6-certs: stopped by a signal; the run did not end within %s, exiting\n", stopGrace)
			os.Exit(1)
		case <-returned:
		}
	}()
	cmd, rest := args[0], args[1:]
	synopsis, ok := synopses[cmd]
	if !ok {
		fmt.Fprintf(stderr, "v6-certs: unknown command %q\n%s", cmd, usage)
		return 2
	}
	c := cli.New("v6-certs "+cmd, "v6-certs "+synopsis, stdout, stderr)
	c.Exits = exits
	fs := c.Flags
	o := &opts{}
	o.common(fs)
	switch cmd {
	case "obtain":
		o.obtainFlags(fs)
		c.FamilyFlag(&o.fam, true, "the families the built-in challenge server (--listen) answers on")
		o.deployFlags(fs)
	case "renew":
		o.deployFlags(fs)
		fs.Var(&o.certNames, "cert-name", "renew only this lineage (repeatable)")
		fs.BoolVar(&o.force, "force", false, "renew even if not due")
		fs.BoolVar(&o.verbose, "v", false, "also print lineages that are not due")
		fs.StringVar(&o.email, "email", "", "contact e-mail if an account must be registered")
	case "list":
	case "import":
		fs.StringVar(&o.certbot, "certbot", "", "certbot's configuration directory to adopt (becomes --dir)")
		fs.StringVar(&o.webroot, "webroot", "", "use this webroot instead of what certbot recorded")
		fs.StringVar(&o.challenge, "challenge", "", "use this challenge instead of certbot's authenticator")
		fs.BoolVar(&o.keepAutorenew, "keep-certbot-autorenew", false, "leave certbot's renewal/NAME.conf as it is (default: set autorenew = False, with a backup)")
	}
	if cmd == "obtain" || cmd == "renew" { // the commands that take the store's lock
		o.lock = c.NoWait()
	}
	if code, ok := c.ParsePositional(rest); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.Usage("unexpected argument %q (names go after -d)", fs.Arg(0))
	}
	o.family = string(o.fam)
	if o.lock != nil {
		switch {
		case o.lock.NoWait() && c.Given("lock-wait"):
			return c.Usage("--no-wait and --lock-wait exclude each other")
		case o.lock.NoWait():
			o.lockWait = 0
		case !c.Given("lock-wait"):
			o.lockWait = fsutil.DefaultLockWait
		}
		o.lockWaiting = o.lock.Waiting
	}
	cfg, err := o.config(cmd, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "v6-certs %s: %v\n", cmd, err)
		return 2
	}
	switch cmd {
	case "obtain":
		return o.obtain(ctx, cfg, stdout, stderr)
	case "renew":
		return o.renew(ctx, cfg, stdout, stderr)
	case "list":
		return o.list(cfg, stdout, stderr)
	default:
		return o.importCertbot(cfg, stdout, stderr)
	}
}

// exitFor maps an error to the documented exit code: input problems are 2, the rest 1.
func exitFor(err error) int {
	for _, s := range []error{acme.ErrNoNames, acme.ErrInvalidName, acme.ErrWildcardChallenge, acme.ErrIPChallenge,
		acme.ErrChallenge, acme.ErrWebroot, acme.ErrListen, acme.ErrDNSProvider, acme.ErrDNSCredentials,
		acme.ErrKeyType, acme.ErrServerURL, acme.ErrEAB, acme.ErrEmail, acme.ErrLineageName, acme.ErrConcurrency, acme.ErrNoStore} {
		if errors.Is(err, s) {
			return 2
		}
	}
	return 1
}
