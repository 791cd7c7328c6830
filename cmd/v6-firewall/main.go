// Command v6-firewall renders the packet filter of an IPv6-only or dual-stack Mastodon
// host with package firewall: the host's nftables ruleset and, with --router-host, the
// Yamaha RTX ACL for the router in front of it.
//
//	v6-firewall --ssh-from PREFIX|any|off [--app PREFIX]... [--family ipv6-only|dual-stack]
//	    [--service NAME:PORTS[/udp]:FROM]... [--no-mastodon] [--table NAME]
//	    [--router-host ADDR [--router-tunnel N | --router-interface lan2]
//	     [--router-numbers 40000-40099] [--router-existing FIRST-LAST]... [--router-keep-in N,…]]
//	    [--out FILE] [--router-out FILE] [--check] [--diff] [--json] [--strict] [--no-wait]
//
// Without --out the ruleset (then the ACL) goes to stdout. --check runs `nft -c -f` on
// the ruleset and writes nothing; --diff shows what would change in --out and
// --router-out (unified) and writes nothing. The command line follows internal/cli's
// conventions. Exit status: 0 ok (--diff: nothing would change), 1 invalid input, a
// failed check or write, another run holding the lock under --no-wait, or (--diff)
// something would change; 2 usage (including a missing --out directory).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/firewall"
	"github.com/v6kit/v6kit/internal/cli"
	"github.com/v6kit/v6kit/internal/fsutil"
)

func main() { os.Exit(cli.Main("v6-firewall", run)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, code, ok := parseFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	c := o.config
	var res result
	finish := func(code int, err error) int { return res.finish(o.cmd, code, err, o.json, stdout, stderr) }
	res.Problems = o.cmd.FlagPaths(c.Validate(), fields)
	if err := res.Problems.Err(); err != nil {
		return finish(1, err)
	}
	if o.strict && res.Problems.Strict() != nil {
		return finish(1, errors.New("warnings are fatal under --strict"))
	}
	ruleset, err := c.Bytes()
	if err != nil {
		return finish(1, err)
	}
	var rtx []byte
	if c.Router != nil {
		acl, err := c.RouterACL()
		if err == nil {
			rtx, err = acl.Bytes()
		}
		if err != nil {
			return finish(1, err)
		}
	}
	switch {
	case o.check:
		if err := firewall.CheckRuleset(context.Background(), ruleset, firewall.CheckOptions{}); err != nil {
			return finish(1, err)
		}
		res.Checked = true
		if !o.json {
			fmt.Fprintln(stdout, "nft -c: the ruleset is valid")
		}
	case o.diff:
		for _, f := range []struct {
			name string
			data []byte
		}{{o.out, ruleset}, {o.routerOut, rtx}} {
			if f.name == "" || f.data == nil {
				continue
			}
			old, err := os.ReadFile(f.name)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return finish(1, err)
			}
			d := cli.Diff(f.name, string(old), string(f.data))
			res.Diff += d
			res.Changed = res.Changed || d != ""
		}
		if !o.json {
			fmt.Fprint(stdout, res.Diff)
		}
		return finish(cli.DiffCode(res.Changed), nil)
	default:
		if err := res.emit(o, c, ruleset, rtx, stdout); err != nil {
			return finish(1, err)
		}
	}
	return finish(0, nil)
}

func isFile(name string) bool { return name != "" && name != "-" }

// emit writes the artifacts to their files, or stdout (or the JSON result).
func (res *result) emit(o opts, c firewall.Config, ruleset, rtx []byte, stdout io.Writer) error {
	write := func(name string, data []byte, save func(string) (files.Result, error), field *string) error {
		if name == "" || name == "-" {
			if o.json {
				*field = string(data)
				return nil
			}
			_, err := stdout.Write(data)
			return err
		}
		wr, err := save(name)
		if err != nil {
			return err
		}
		res.Written = append(res.Written, written{File: name, Changed: wr.Changed, Notes: wr.Notes})
		if !o.json {
			state := "unchanged"
			if wr.Changed {
				state = "written"
			}
			fmt.Fprintf(stdout, "%s: %s\n", name, state)
			for _, n := range wr.Notes {
				fmt.Fprintf(stdout, "note: %s\n", n)
			}
		}
		return nil
	}
	wo := firewall.WriteOptions{NoWait: o.lock.NoWait(), Waiting: o.lock.Waiting}
	if isFile(o.out) && rtx != nil && isFile(o.routerOut) {
		// The ruleset and the ACL are one set: all or nothing under one lock, so two runs
		// with different flags never leave one's ruleset beside the other's ACL.
		lo := fsutil.LockOptions{NoWait: wo.NoWait, Waiting: wo.Waiting}
		opt := fsutil.Options{Mode: 0o644, KeepMode: true, MkdirAll: true}
		out, err := fsutil.WriteSet(context.Background(), "v6-firewall-"+filepath.Base(o.out), filepath.Dir(o.out), lo, []fsutil.SetFile{
			{Path: o.out, Data: ruleset, Opt: opt}, {Path: o.routerOut, Data: rtx, Opt: opt}})
		if err != nil {
			return fmt.Errorf("firewall: write %s and %s: %w", o.out, o.routerOut, err)
		}
		for i, name := range []string{o.out, o.routerOut} {
			if err := write(name, nil, func(string) (files.Result, error) { return out[i], nil }, nil); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(o.out, ruleset, func(name string) (files.Result, error) { return c.WriteFileOpts(name, wo) }, &res.Ruleset); err != nil {
		return err
	}
	if rtx == nil {
		return nil
	}
	acl, err := c.RouterACL()
	if err != nil {
		return err
	}
	return write(o.routerOut, rtx, func(name string) (files.Result, error) { return acl.WriteFileOpts(name, wo) }, &res.RouterACL)
}
