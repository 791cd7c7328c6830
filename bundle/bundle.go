// Package bundle is the whole-host composition: it turns a typed [Host] (family,
// domains, release, paths) — or, for a multi-host topology, the typed configs of each
// host — into every artifact a Mastodon host needs (.env.production, systemd units, the
// nginx site, pg_hba, PostgreSQL tuning, Redis), validates every one of them with its own
// package before anything is written, and writes them atomically into a directory tree
// that mirrors the target host's filesystem (etc/nginx/…, etc/systemd/system/…,
// home/mastodon/live/…), with NEXT-STEPS.md for what the admin runs next.
//
// It is what an installer built on v6kit needs most, so it is public: v6kit's own
// examples (examples/allinone, dualstack, split) are small mains over it, and
// examples/thirdparty shows the same from a module of its own. The flow is
// [Host.Compose] into a [Tree] (nothing written), [Check] (every problem of every tree,
// each with its path), then [Write]; [Command] and [RunHost] wrap that for a CLI.
//
// Re-running on its own output changes nothing: .env.production is merged with
// envfile.Merge (secrets are never regenerated), a pg_hba.conf already in the tree
// gets its managed block replaced in place, and every other file is rendered
// deterministically and skipped when its bytes and mode are unchanged.
//
// The install steps ([Host.Steps], [Step]) are data that v6-install checks before it
// runs anything ([CheckSteps]). A step that restarts or reloads a daemon is done only
// while the daemon (re)started after the files it reads last changed ([StartedAfter],
// [ReloadedAfter]): a running daemon with an older config is a step to do again.
package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/nginxconf"
	"github.com/v6kit/v6kit/pgsetup"
	"github.com/v6kit/v6kit/redisconf"
	"github.com/v6kit/v6kit/report"
	"github.com/v6kit/v6kit/units"
)

// Sentinels of the bundle itself (the packages report their own).
var (
	// ErrPath: a bundle path that is absolute, unclean or leaves the tree.
	ErrPath = errors.New("bundle path must be relative, clean and stay inside --out")
	// ErrDuplicate: two artifacts rendered to the same path.
	ErrDuplicate = errors.New("two artifacts render to the same path: give them different names")
	// ErrUnparsable: a file already in the tree that must be merged cannot be read.
	ErrUnparsable = errors.New("the file already in --out does not parse: fix it by hand or move it away; it was left untouched")
	// ErrOut: the output directory is unusable.
	ErrOut = errors.New("output directory unusable: give --out an existing or creatable directory")
)

// File is one artifact of a bundle.
type File struct {
	// Path is relative to the tree's root, slash-separated, e.g. "etc/nginx/sites-available/mastodon".
	Path string
	// Data is the content.
	Data []byte
	// Mode is the permission bits (0600 for secrets).
	Mode fs.FileMode
	// Secret marks files that hold secrets (their content is never printed).
	Secret bool
	// Backup keeps the previous content as a timestamped copy when it changes.
	Backup bool
}

// Tree is the bundle of one host, rooted at Root.
type Tree struct {
	// Name labels the host in problem paths and the summary ("" for a single host).
	Name string
	// Root is the directory that mirrors the host's filesystem.
	Root string
	// Problems holds every problem found so far, paths prefixed with the artifact.
	Problems report.Problems
	// NoWait makes the tree's lock fail at once, naming the holder's PID, when another
	// run holds it (--no-wait); otherwise a run waits for it, up to two minutes.
	NoWait bool
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds the
	// tree's lock, before waiting for it.
	Waiting  func(lock string, pid int)
	files    []File
	reported map[string]bool
	// lock is the tree's lock, taken at the first read of a file already in the tree
	// and held until Write has renamed everything: a second run waits, then reads what
	// this one wrote (secrets are generated once).
	lock *fsutil.Lock
	// made is the topmost directory Lock created for Root's parent ("" if none):
	// [Abandon] removes it again when it is still empty.
	made string
	// readOnly reads without the lock and creates nothing ([DiffHost]).
	readOnly bool
	// beforeRename injects faults in tests.
	beforeRename func(path string) error
}

// Lock takes the tree's lock (.ROOT.v6kit-lock beside Root) unless it is held: the
// first read of a file already in the tree takes it, and [Write] releases it. Another
// run of the same tree waits until then, up to two minutes; noWait (or t.NoWait) fails
// at once. A missing parent of Root is created first (0755, as Write would create it),
// so the lock always has the same place: two runs into a new directory take turns, and
// the second reads and merges into what the first wrote.
func (t *Tree) Lock(noWait bool) error {
	if t.lock != nil {
		return nil
	}
	if t.Root == "" {
		return fmt.Errorf("%w: empty root", ErrOut)
	}
	root := filepath.Clean(t.Root)
	for try := 0; ; try++ {
		made := firstMissing(filepath.Dir(root))
		if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
			return fmt.Errorf("%w: %v", ErrOut, err)
		}
		lk, err := fsutil.LockFile(context.Background(), root, fsutil.LockOptions{NoWait: noWait || t.NoWait, Waiting: t.Waiting})
		if errors.Is(err, fs.ErrNotExist) && try < 10 {
			continue // a refused run removed the directory it had made ([Abandon]): make it again
		}
		if err != nil {
			return err
		}
		if t.made == "" {
			t.made = made
		}
		t.lock = lk
		return nil
	}
}

// firstMissing returns the topmost directory of dir's path that does not exist yet
// ("" when dir exists).
func firstMissing(dir string) string {
	missing := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			return missing
		}
		missing = d
		if filepath.Dir(d) == d {
			return missing
		}
	}
}

// Abandon ends a run that writes nothing (its trees were refused): it removes the
// trees' lock files and the directories [Tree.Lock] created for them while they are
// empty, so a refused run leaves the disk as it found it, --out included. [Finish] calls
// it when [Check] fails.
func Abandon(trees ...*Tree) {
	for _, t := range trees {
		if t.lock != nil {
			t.lock.Remove()
			t.lock = nil
		}
	}
	for _, t := range trees {
		if t.made == "" {
			continue
		}
		for d := filepath.Dir(filepath.Clean(t.Root)); ; d = filepath.Dir(d) {
			if os.Remove(d) != nil || d == t.made { // not empty (another run's, or ours): stop
				break
			}
		}
		t.made = ""
	}
}

// Unlock releases the tree's lock (Write does this itself).
func (t *Tree) Unlock() {
	t.lock.Unlock()
	t.lock = nil
}

// New returns an empty tree for the host name rooted at root.
func New(name, root string) *Tree { return &Tree{Name: name, Root: root, reported: map[string]bool{}} }

// Files returns the tree's files in the order they were added.
func (t *Tree) Files() []File { return slices.Clone(t.files) }

// File returns the file at path p, if the tree has it.
func (t *Tree) File(p string) (File, bool) {
	for _, f := range t.files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// Add adds a rendered file. A bad or duplicate path is recorded as a problem.
func (t *Tree) Add(f File) {
	if f.Mode == 0 {
		f.Mode = 0o644
	}
	if f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../") || f.Path == ".." ||
		strings.ContainsAny(f.Path, "\\\x00\n\r") {
		t.Problems.Errorf(f.Path, ErrPath, "%q is not a clean relative path", f.Path)
		return
	}
	if _, dup := t.File(f.Path); dup {
		t.Problems.Errorf(f.Path, ErrDuplicate, "%s is rendered twice", f.Path)
		return
	}
	t.files = append(t.files, f)
}

// Problem records problems of the artifact at path p.
func (t *Tree) Problem(p string, ps report.Problems) { t.Problems.Append(p, ps) }

// local is the on-disk path of a tree path.
func (t *Tree) local(p string) string { return filepath.Join(t.Root, filepath.FromSlash(p)) }

// Existing returns the content of a file already in the tree on disk, if any.
// It takes the tree's lock first ([Tree.Lock]; [DiffHost] reads without it and creates
// nothing). A dangling symlink, a FIFO or a file that cannot be read is an error naming
// it, never "no file".
func (t *Tree) Existing(p string) ([]byte, bool, error) {
	if t.readOnly {
		if _, err := os.Stat(filepath.Dir(filepath.Clean(t.Root))); errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return fsutil.ReadExisting(t.local(p))
	}
	if err := t.Lock(false); err != nil {
		return nil, false, err
	}
	b, ok, err := fsutil.ReadExisting(t.local(p))
	return b, ok, err
}

// ExistingEnv parses the .env.production already at p in the tree. It returns nil when
// there is none; a file that cannot be read (a dangling symlink, a FIFO) or does not
// parse is recorded as an error once, however often it is asked for (it is never
// overwritten), and nil is returned.
func (t *Tree) ExistingEnv(p string) *envfile.File {
	b, ok, err := t.Existing(p)
	if err != nil {
		if !t.reported[p] {
			t.Problems.Errorf(p, ErrUnparsable, "read: %v", err)
		}
		t.reported[p] = true
		return nil
	}
	if !ok {
		return nil
	}
	f, err := envfile.Parse(b)
	if err != nil {
		if !t.reported[p] {
			t.Problems.Errorf(p, ErrUnparsable, "the file already in --out does not parse, so it was left untouched: fix it by hand or move it away (%v)", err)
		}
		t.reported[p] = true
		return nil
	}
	f.Name = path.Base(p)
	return f
}

// Env merges c into the .env.production already at p (or starts a new one) and adds
// the result (0600, backed up when it changes). Secrets already in the file are kept;
// missing ones are generated from opt.Rand.
func (t *Tree) Env(p string, c envfile.Config, opt envfile.Options) *envfile.File {
	existing := t.ExistingEnv(p)
	if existing == nil {
		if _, ok, err := t.Existing(p); ok || err != nil {
			return nil // unreadable or unparsable: recorded, never overwritten
		}
	}
	return t.EnvFrom(p, existing, c, opt)
}

// EnvFrom is Env starting from existing instead of the file at p (nil: a new file):
// hosts that share one .env.production take it from whichever host still has it.
func (t *Tree) EnvFrom(p string, existing *envfile.File, c envfile.Config, opt envfile.Options) *envfile.File {
	var (
		f  *envfile.File
		ps report.Problems
	)
	if existing == nil {
		f, ps = envfile.New(c, opt)
	} else {
		rel := opt.Release
		if rel.Version == (mastodon.Release{}).Version {
			rel = mastodon.Newest()
		}
		f, ps = envfile.Merge(existing, c.Defaults(rel), opt)
	}
	t.Problem(p, ps)
	if f == nil || ps.HasErrors() {
		return f
	}
	b, err := f.Bytes()
	if err != nil {
		t.Problems.Errorf(p, envfile.ErrUnwritable, "%v", err)
		return f
	}
	t.Add(File{Path: p, Data: b, Mode: 0o600, Secret: true, Backup: true})
	return f
}

// Units renders the deployment's units into directory dir of the tree.
func (t *Tree) Units(dir string, d units.Deployment) *units.Plan {
	ps := d.Validate()
	t.Problem("units", ps)
	if ps.HasErrors() {
		return nil
	}
	plan, err := d.Render()
	if err != nil {
		t.Problem("units", report.AsProblems(err))
		if report.AsProblems(err) == nil {
			t.Problems.Errorf("units", units.ErrValue, "%v", err)
		}
		return nil
	}
	for _, f := range plan.Files {
		t.Add(File{Path: path.Join(dir, f.Name), Data: f.Bytes(), Mode: 0o644})
	}
	return plan
}

// ClusterUnits validates the hosts of c together (one scheduler, every queue served,
// one connection budget) and renders each host's units into directory dir of its tree:
// trees[i] is c.Hosts[i]'s. A problem of one host goes to that host's tree; a problem
// of the cluster as a whole goes to whole's, under "cluster.units".
func ClusterUnits(dir string, c units.Cluster, trees []*Tree, whole *Tree) []*units.Plan {
	if len(trees) != len(c.Hosts) {
		whole.Problems.Errorf("cluster.units", units.ErrCluster, "%d hosts but %d trees", len(c.Hosts), len(trees))
		return nil
	}
	for _, p := range c.Validate() {
		to, at := whole, report.JoinPath("cluster.units", p.Path)
		for i, h := range c.Hosts {
			if rest, ok := strings.CutPrefix(p.Path, h.Name); ok && h.Name != "" && (rest == "" || rest[0] == '.' || rest[0] == '[') {
				to, at = trees[i], report.JoinPath("units", strings.TrimPrefix(rest, "."))
			}
		}
		p.Path = at
		to.Problems.Add(p)
	}
	plans, err := c.Render()
	if err != nil {
		return nil // the problems are recorded above
	}
	for i, plan := range plans {
		for _, f := range plan.Files {
			trees[i].Add(File{Path: path.Join(dir, f.Name), Data: f.Bytes(), Mode: 0o644})
		}
	}
	return plans
}

// Listen renders PostgreSQL's listen_addresses snippet to p.
func (t *Tree) Listen(p string, l pgsetup.Listen) {
	ps := l.Validate()
	t.Problem(p, ps)
	if ps.HasErrors() {
		return
	}
	b, err := l.Snippet()
	if err != nil {
		t.Problems.Errorf(p, pgsetup.ErrListen, "%v", err)
		return
	}
	t.Add(File{Path: p, Data: b, Mode: 0o644})
}

// Site renders the nginx site to p.
func (t *Tree) Site(p string, s nginxconf.Site) { t.site(p, s, nil) }

// site is Site leaving out the problems at the paths in reported: those another
// artifact already reported (the problem is the same value, and is reported once).
// Errors left out still keep the site from being rendered.
func (t *Tree) site(p string, s nginxconf.Site, reported map[string]bool) {
	ps := s.Validate()
	t.Problem(p, slices.DeleteFunc(slices.Clone(ps), func(q report.Problem) bool { return reported[q.Path] }))
	if ps.HasErrors() {
		return
	}
	b, err := s.Bytes()
	if err != nil {
		t.Problems.Errorf(p, nginxconf.ErrPrint, "%v", err)
		return
	}
	t.Add(File{Path: p, Data: b, Mode: 0o644})
}

// Redis renders the Redis snippet to p (0640: it may hold the password).
func (t *Tree) Redis(p string, c redisconf.Config) {
	ps := c.Validate()
	t.Problem(p, ps)
	if ps.HasErrors() {
		return
	}
	b, err := c.Snippet()
	if err != nil {
		t.Problems.Errorf(p, redisconf.ErrAddr, "%v", err)
		return
	}
	t.Add(File{Path: p, Data: b, Mode: 0o640, Secret: c.Password != ""})
}

// Tuning renders the PostgreSQL tuning snippet to p.
func (t *Tree) Tuning(p string, tu pgsetup.Tuning) {
	ps := tu.Validate()
	t.Problem(p, ps)
	if ps.HasErrors() {
		return
	}
	b, err := tu.Snippet()
	if err != nil {
		t.Problems.Errorf(p, pgsetup.ErrTuning, "%v", err)
		return
	}
	t.Add(File{Path: p, Data: b, Mode: 0o644})
}

// HBA renders the managed pg_hba.conf block of c. When the tree already holds a
// pg_hba.conf at p (the admin copied the host's file into --out), the block is put into
// it in place with pgsetup's own SetBlock, keeping every other line; otherwise the block
// alone is written to blockPath, for v6-pgsetup (or the admin) to put into the live file.
func (t *Tree) HBA(p, blockPath string, c pgsetup.Config) []pgsetup.HBARule {
	ps := c.Validate()
	t.Problem("pgsetup", ps)
	if ps.HasErrors() {
		return nil
	}
	rules := c.HBARules()
	name := c.BlockName()
	old, ok, err := t.Existing(p)
	if err != nil {
		t.Problems.Errorf(p, ErrUnparsable, "read: %v", err)
		return nil
	}
	if ok {
		f, err := pgsetup.ParseHBA(old)
		if err != nil {
			t.Problems.Errorf(p, ErrUnparsable, "%v", err)
			return nil
		}
		_, sps := f.SetBlock(name, rules)
		t.Problem(p, sps)
		if sps.HasErrors() {
			return nil
		}
		t.Add(File{Path: p, Data: f.Bytes(), Mode: 0o640, Backup: true})
		return rules
	}
	lines := pgsetup.BlockLines(name, rules)
	t.Add(File{Path: blockPath, Data: []byte(strings.Join(lines, "\n") + "\n"), Mode: 0o644})
	return rules
}

// Result says what Write did for one tree.
type Result struct {
	Tree *Tree
	// Changed and Unchanged list the paths written and the ones already up to date.
	Changed, Unchanged []string
	// Backups lists backups made of replaced content.
	Backups []string
	// Notes says what else was found or done: leftovers of an interrupted run removed,
	// a run that ended between renames, a secret file's mode changed.
	Notes []string
}

// Check returns the error of every problem of every tree, nil if none is an error.
func Check(trees ...*Tree) error {
	var all report.Problems
	for _, t := range trees {
		all.Append(t.Name, t.Problems)
	}
	return all.Err()
}

// Write writes every tree all or nothing, and only when no tree has an error (then
// nothing at all is written). Every file of every tree is locked, read and staged (a
// complete temp file beside it) before the first one is replaced; then they are renamed
// into place in path order. If one fails, every file already replaced is put back
// (content, mode and owner; a created one removed) and the error names the file that
// failed and each file put back. A file whose bytes and mode are already right is not
// touched; a file's owner and group are kept. The trees' locks are released at the end;
// a run refused before the first rename abandons them ([Abandon]), so it leaves no lock
// file or directory of its own behind.
func Write(trees ...*Tree) (_ []Result, err error) {
	committing := false
	defer func() {
		if err != nil && !committing {
			Abandon(trees...) // refused before anything was written: no lock file or directory of ours stays
		}
		for _, t := range trees {
			t.Unlock()
		}
	}()
	if err := Check(trees...); err != nil {
		return nil, err
	}
	if len(trees) == 0 {
		return nil, nil
	}
	for _, t := range trees {
		if t.Root == "" {
			return nil, fmt.Errorf("%w: empty root", ErrOut)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(t.Root)), 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOut, err)
		}
		if err := t.Lock(false); err != nil {
			return nil, err
		}
		if err := mkdirRoot(t.Root); err != nil {
			return nil, err
		}
		if err := fsutil.CheckWritableDir(t.Root); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOut, err)
		}
	}
	ctx := context.Background()
	// The set's marker and lock sit beside the first root, like the trees' locks: nothing
	// but the artifacts (and .v6kit-backup/) lands inside a tree.
	root0 := filepath.Clean(trees[0].Root)
	set := &fsutil.Set{Name: "bundle-" + filepath.Base(root0), Dir: filepath.Dir(root0), BeforeRename: trees[0].beforeRename}
	defer set.Abort()
	if err := set.Begin(ctx, fsutil.LockOptions{NoWait: trees[0].NoWait, Waiting: trees[0].Waiting}); err != nil {
		return nil, err
	}
	type entry struct {
		tree int
		path string
	}
	var order []entry
	for i, t := range trees {
		files := t.Files()
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
		for _, f := range files {
			// Parent directories are shared (home/mastodon/live): 0755; a secret file is 0600 itself.
			opt := fsutil.Options{Mode: f.Mode, Secret: f.Secret, MkdirAll: true, DirMode: 0o755, BackupDir: f.Backup, NoLock: true}
			if err := set.Add(ctx, t.local(f.Path), f.Data, opt); err != nil {
				return nil, fmt.Errorf("%s: %w (nothing was written)", f.Path, err)
			}
			order = append(order, entry{i, f.Path})
		}
	}
	committing = true
	outs, err := set.Commit()
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(trees))
	for i, t := range trees {
		out[i].Tree = t
	}
	out[0].Notes = set.Notes
	for k, o := range outs {
		r := &out[order[k].tree]
		if o.Changed {
			r.Changed = append(r.Changed, order[k].path)
		} else {
			r.Unchanged = append(r.Unchanged, order[k].path)
		}
		if o.Backup != "" {
			r.Backups = append(r.Backups, o.Backup)
		}
	}
	return out, nil
}

// PrintProblems writes every problem of every tree, sorted, one per line, prefixed with
// the host name when there are several.
func PrintProblems(w io.Writer, trees ...*Tree) {
	for _, t := range trees {
		for _, p := range t.Problems.Sorted() {
			if p.Severity == report.Info {
				continue
			}
			if t.Name != "" {
				fmt.Fprintf(w, "%s: %v\n", t.Name, p)
			} else {
				fmt.Fprintf(w, "%v\n", p)
			}
		}
	}
}

// PrintSummary writes what Write did, one line per file: its mode, whether it changed,
// and its path. Secret files are marked; their content is never shown.
func PrintSummary(w io.Writer, results []Result) {
	for _, r := range results {
		if r.Tree.Name != "" {
			fmt.Fprintf(w, "%s (%s):\n", r.Tree.Name, r.Tree.Root)
		}
		changed := map[string]bool{}
		for _, p := range r.Changed {
			changed[p] = true
		}
		files := r.Tree.Files()
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
		for _, f := range files {
			state := "unchanged"
			if changed[f.Path] {
				state = "written  "
			}
			mark := ""
			if f.Secret {
				mark = "  (secrets)"
			}
			fmt.Fprintf(w, "  %s %04o %s%s\n", state, f.Mode, f.Path, mark)
		}
		for _, b := range r.Backups {
			fmt.Fprintf(w, "  backup of the previous content: %s\n", b)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
}

// PrintBudget writes the connection budget.
func PrintBudget(w io.Writer, b units.BudgetReport) {
	fmt.Fprintf(w, "PostgreSQL connection budget: %s\n", b.Formula)
	fmt.Fprintf(w, "  peak %d of %d available, headroom %d\n", b.Total, b.Available, b.Headroom)
}

// mkdirRoot makes a tree's root directory, naming what stands in the way when it
// can't: a dangling symbolic link (say an unmounted volume) or a file that is no
// directory, instead of mkdir's bare "file exists".
func mkdirRoot(root string) error {
	err := os.MkdirAll(root, 0o755)
	if err == nil {
		return nil
	}
	fi, lerr := os.Lstat(root)
	switch {
	case lerr != nil:
	case fi.Mode()&fs.ModeSymlink != 0:
		if dest, rerr := os.Readlink(root); rerr == nil {
			if _, serr := os.Stat(root); errors.Is(serr, fs.ErrNotExist) {
				return fmt.Errorf("%w: %s is a symbolic link to %s, which does not exist (create that directory, or give --out another one)", ErrOut, root, dest)
			}
		}
	case !fi.IsDir():
		return fmt.Errorf("%w: %s exists and is not a directory (mode %s)", ErrOut, root, fi.Mode())
	}
	return fmt.Errorf("%w: %v", ErrOut, err)
}
