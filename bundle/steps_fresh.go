package bundle

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/report"
)

// freshScript is the fixed script of [StartedAfter] and [ReloadedAfter]: $1 is the
// systemd timestamp property, $2 the unit, the rest the files. The values are positional
// parameters, never part of the script (one line: NEXT-STEPS.md prints it as one argument). The unit must be active, and no file's mtime may
// be later than the property (both with sub-second precision: systemd's --timestamp=us+utc,
// date -r's %N), so a file installed after the last (re)start is a step to do again.
const freshScript = `p=$1 u=$2; shift 2; ` +
	`test "$(systemctl show -P ActiveState -- "$u")" = active || { echo "$u is not active" >&2; exit 1; }; ` +
	`t=$(systemctl show --timestamp=us+utc -P "$p" -- "$u"); ` +
	`test -n "$t" && s=$(date -u -d "$t" +%s%N) || { echo "$u has no $p" >&2; exit 1; }; ` +
	`for f do m=$(date -r "$f" +%s%N) || exit 1; ` +
	`test "$m" -le "$s" || { echo "$f changed after $u's $p ($t): $u runs the old one" >&2; exit 1; }; done`

// The systemd properties the freshness checks read. ActiveEnterTimestamp is when the
// unit last became active (a start or a restart; a reload leaves it); StateChangeTimestamp
// moves with every state change, a reload's active → reloading → active too (both seen
// under a real systemd 252: examples/e2e TestNspawnInstall).
const (
	startedProp  = "ActiveEnterTimestamp"
	reloadedProp = "StateChangeTimestamp"
)

// StartedAfter is a check that unit is active and was (re)started after every one of
// files last changed: `systemctl show`'s ActiveEnterTimestamp against each file's mtime.
// A restart step's check needs it ([CheckSteps]): without it, a step whose daemon is
// merely running looks done after its config changed, and the daemon keeps the old one.
// The command is sh -c with a fixed script; unit and files are its positional parameters.
// It needs systemd 247 or later (--timestamp=us+utc) and GNU date.
func StartedAfter(unit string, files ...string) Cmd {
	return freshCmd(startedProp, unit, files)
}

// ReloadedAfter is [StartedAfter] for a reload: unit is active and changed state (a
// reload or a restart) after every one of files last changed, by `systemctl show`'s
// StateChangeTimestamp. A reload step's check needs it ([CheckSteps]).
func ReloadedAfter(unit string, files ...string) Cmd {
	return freshCmd(reloadedProp, unit, files)
}

func freshCmd(prop, unit string, files []string) Cmd {
	return Cmd{Args: append([]string{"sh", "-c", freshScript, "sh", prop, unit}, files...)}
}

// Installed are the checks that each of files (host paths, /etc/…) is installed as the
// bundle has it: `cmp -s -- etc/… /etc/…`, run from the bundle directory as every check
// is. A restart step checks them next to [StartedAfter], so --plan shows it to do as soon
// as a re-rendered bundle holds another config, before its file step installs it.
func Installed(files ...string) []Cmd {
	var out []Cmd
	for _, f := range files {
		out = append(out, Cmd{Args: []string{"cmp", "-s", "--", strings.TrimPrefix(f, "/"), f}})
	}
	return out
}

// freshCheck is the property, unit and files of a [StartedAfter] or [ReloadedAfter]
// command, ok false for any other command.
func freshCheck(c Cmd) (prop, unit string, files []string, ok bool) {
	if len(c.Args) < 6 || c.Args[0] != "sh" || c.Args[1] != "-c" || c.Args[2] != freshScript || c.Args[3] != "sh" {
		return "", "", nil, false
	}
	return c.Args[4], c.Args[5], c.Args[6:], true
}

// unitName is a systemd unit name as the steps name them: NAME.TYPE, NAME with an
// optional @INSTANCE, never starting with '-'.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.\\][A-Za-z0-9:_.\\-]*(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|timer|path|mount|target)$`)

// normUnit is unit as systemctl reads it: a name without a unit type is a service.
func normUnit(u string) string {
	switch path.Ext(u) {
	case ".service", ".socket", ".timer", ".path", ".mount", ".target", ".swap", ".automount", ".slice", ".scope", ".device":
		return u
	}
	return u + ".service"
}

// systemctlRestarts is what a Run command does to units: the units it restarts and those
// it reloads (a reload-or-restart reloads), from `systemctl [OPTIONS] VERB UNIT…`.
func systemctlRestarts(c Cmd) (restart, reload []string) {
	if len(c.Args) == 0 || path.Base(c.Args[0]) != "systemctl" {
		return nil, nil
	}
	var verb string
	for _, a := range c.Args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if verb == "" {
			verb = a
			continue
		}
		switch verb {
		case "restart", "try-restart":
			restart = append(restart, normUnit(a))
		case "reload", "reload-or-restart", "try-reload-or-restart", "force-reload":
			reload = append(reload, normUnit(a))
		}
	}
	return restart, reload
}

// checkFreshness records, for step s at at, every freshness check with a bad value and
// every unit its Run restarts (reloads) without a [StartedAfter] ([ReloadedAfter]) check.
func checkFreshness(ps *report.Problems, at string, s Step) {
	started, reloaded := map[string]bool{}, map[string]bool{}
	for j, c := range s.Check {
		prop, unit, files, ok := freshCheck(c)
		if !ok {
			continue
		}
		cat := fmt.Sprintf("%s.check[%d]", at, j)
		switch prop {
		case startedProp:
			started[unit] = true
		case reloadedProp:
			reloaded[unit] = true
		default:
			ps.Errorf(cat+".args[4]", ErrCommandValue, "step %q: %q is not a timestamp the freshness check reads (%s or %s)", s.ID, prop, startedProp, reloadedProp)
		}
		if !unitName.MatchString(unit) {
			ps.Errorf(cat+".args[5]", ErrCommandValue, "step %q: %q is not a systemd unit name (NAME.service, NAME@INSTANCE.service, …)", s.ID, unit)
		}
		if len(files) == 0 {
			ps.Errorf(cat, ErrSteps, "step %q: the freshness check of %s names no file: give the files the unit reads", s.ID, unit)
		}
		for k, f := range files {
			if why := checkPathValue(f); why != "" {
				ps.Errorf(fmt.Sprintf("%s.args[%d]", cat, 6+k), ErrCommandValue, "step %q: %q %s", s.ID, f, why)
			}
		}
	}
	var noStart, noReload []string
	for _, c := range s.Run {
		restart, reload := systemctlRestarts(c)
		for _, u := range restart {
			if !started[u] && !slices.Contains(noStart, u) {
				noStart = append(noStart, u)
			}
		}
		for _, u := range reload {
			if !reloaded[u] && !slices.Contains(noReload, u) {
				noReload = append(noReload, u)
			}
		}
	}
	if len(noStart) > 0 {
		ps.Errorf(at+".check", ErrSteps, "step %q restarts %s, but its check does not ask whether %s started after its files changed: "+
			"add bundle.StartedAfter(UNIT, FILES…) for each, or the step looks done while the daemon runs an old config", s.ID, strings.Join(noStart, ", "), them(noStart))
	}
	if len(noReload) > 0 {
		ps.Errorf(at+".check", ErrSteps, "step %q reloads %s, but its check does not ask whether %s reloaded after its files changed: "+
			"add bundle.ReloadedAfter(UNIT, FILES…) for each, or the step looks done while the daemon runs an old config", s.ID, strings.Join(noReload, ", "), them(noReload))
	}
}

func them(units []string) string {
	if len(units) == 1 {
		return "it"
	}
	return "they"
}

// treeFiles are the host paths (/PATH) of t's files under any of dirs (tree paths with
// a trailing slash) or equal to one of them, in the tree's order.
func treeFiles(t *Tree, dirs ...string) []string {
	var out []string
	for _, f := range t.Files() {
		for _, d := range dirs {
			if f.Path == d || (strings.HasSuffix(d, "/") && strings.HasPrefix(f.Path, d)) {
				out = append(out, "/"+f.Path)
				break
			}
		}
	}
	return out
}
