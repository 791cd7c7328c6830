package envfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/v6kit/v6kit/files"
	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/mastodon"
	"github.com/v6kit/v6kit/report"
)

// FormatValue returns value in the one form both of Mastodon's readers read byte for
// byte: bare when it holds only letters, digits and _ . , : / @ + = - [ ]; in single
// quotes otherwise; in double quotes when it holds a single quote (and no $, backslash or
// double quote). A value with a newline, NUL or other control character except tab, or
// one with a single quote together with $, a backslash or a double quote, has no such
// form: the error says why.
func FormatValue(value string) (string, error) {
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("%w: it is not valid UTF-8 text, which Ruby's dotenv refuses to read", ErrUnwritable)
	}
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return "", fmt.Errorf("%w: %U cannot be carried by a .env line (Ruby's dotenv reads only one line per value)", ErrControlChar, r)
		}
	}
	if value == "" {
		return "", nil
	}
	bare := true
	for i := 0; i < len(value); i++ {
		c := value[i]
		if !(isKeyChar(c) || strings.IndexByte(".,:/@+=-[]", c) >= 0) {
			bare = false
			break
		}
	}
	if bare {
		return value, nil
	}
	if !strings.Contains(value, "'") {
		return "'" + value + "'", nil
	}
	if i := strings.IndexAny(value, "$\\\""); i >= 0 {
		return "", fmt.Errorf("%w: it holds a single quote and %q; single quotes cannot hold the quote, and in double quotes Rails treats %q specially while streaming does not", ErrUnwritable, value[i], value[i])
	}
	return `"` + value + `"`, nil
}

// writableFor says why value, in the form FormatValue gives, would not reach both readers
// of rel byte for byte, or returns nil.
func writableFor(rel mastodon.Release, value string) error {
	for _, p := range rel.DotenvPairs() {
		if p.NodeTrimsQuoted() && strings.TrimFunc(value, isJSSpace) != value {
			return fmt.Errorf("%w: it starts or ends with a blank (a space, tab, no-break space, U+3000, U+FEFF…), which Node dotenv %s, the streaming server's reader in Mastodon %s, removes even inside quotes: remove the blank, or change the password or setting to one without", ErrUnwritable, p.Node, rel.Line())
		}
	}
	return nil
}

// render returns the text of one line for the newest release.
func (l Line) render() (string, error) { return l.renderFor(mastodon.Newest()) }

// renderFor returns the text of one line for release rel. A changed or new entry is
// written without "export " (Node dotenv before 16 ignores such lines, and Ruby dotenv
// 3.1.5+ stops on `export KEY=` with an empty value).
func (l Line) renderFor(rel mastodon.Release) (string, error) {
	switch l.Kind {
	case Blank:
		return "", nil
	case Comment:
		if strings.ContainsAny(l.Text, "\n\r\u2028\u2029") || !utf8.ValidString(l.Text) || !strings.HasPrefix(strings.TrimLeft(l.Text, " \t"), "#") {
			return "", fmt.Errorf("%w: a comment must be one line starting with #", ErrSyntax)
		}
		return l.Text, nil
	}
	if !validKey(l.Key) {
		return "", fmt.Errorf("key %q: %w", l.Key, ErrBadKey)
	}
	if l.Raw != "" && rawStillSays(l) {
		return l.Raw, nil
	}
	v, err := FormatValue(l.Value)
	if err != nil {
		return "", err
	}
	if err := writableFor(rel, l.Value); err != nil {
		return "", err
	}
	return l.Key + "=" + v, nil
}

// rawStillSays reports whether l.Raw still sets l.Key to l.Value as v6kit reads it: an
// entry read from a file and not changed since is written back verbatim, so v6kit never
// rewrites a line it did not change (Validate reports the lines the readers disagree on).
func rawStillSays(l Line) bool {
	if strings.ContainsAny(l.Raw, "\n\r") {
		return false
	}
	p, err := parseLine(l.Raw)
	return err == nil && p.Kind == Entry && p.Key == l.Key && p.Value == l.Value && p.Export == l.Export
}

// Bytes renders the file. It fails, naming each line, if a value has no form both
// readers read alike.
func (f *File) Bytes() ([]byte, error) {
	var b bytes.Buffer
	var ps report.Problems
	rel := f.release()
	for _, l := range f.Lines {
		s, err := l.renderFor(rel)
		if err != nil {
			ps.Add(report.Problem{Path: f.where(l), Severity: report.Error, Message: err.Error(), Err: errors.Unwrap(err)})
			continue
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes the file to w: lines in order, LF line ends, each entry read from a file
// and not changed since exactly as it was, and every new or changed value in the form
// [FormatValue] gives. Nothing is
// written if any value cannot be carried.
func (f *File) Write(w io.Writer) error {
	b, err := f.Bytes()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteResult says what [File.WriteFile] did.
type WriteResult = files.Result

// UpdateOptions controls the lock [UpdateFile] and [File.WriteFile] take. The zero value
// waits for another run up to two minutes.
type UpdateOptions struct {
	// NoWait fails at once when another run holds the file's lock (--no-wait).
	NoWait bool
	// Wait bounds the wait for another run. Zero: two minutes.
	Wait time.Duration
	// Waiting, if set, is told once that another run (pid, 0 if unknown) holds lock.
	Waiting func(lock string, pid int)
}

// ErrNothingToWrite, returned by an [UpdateFile] merge, writes nothing; UpdateFile then
// returns no error.
var ErrNothingToWrite = files.ErrNothingToWrite

// UpdateFile is the read-merge-write of a .env.production: it takes the file's lock
// (.NAME.v6kit-lock beside it), reads and parses the file under the lock, and calls merge
// with it (nil when there is no file yet), then writes what merge returns like
// [File.WriteFile]. A second run at the same moment waits, then merges into the file the
// first one wrote: no update is lost and secrets are generated once. A file that does not
// parse, a dangling symlink or an unreadable file is an error and is left as it is.
func UpdateFile(ctx context.Context, name string, o UpdateOptions, merge func(existing *File) (*File, error)) (WriteResult, error) {
	opt := fsutil.Options{Mode: 0o600, KeepMode: true, Secret: true, BackupDir: true,
		Lock: fsutil.LockOptions{NoWait: o.NoWait, Wait: o.Wait, Waiting: o.Waiting}}
	res, err := fsutil.Update(ctx, name, opt, func(old []byte, exists bool) ([]byte, error) {
		var existing *File
		if exists {
			f, perr := parse(filepath.Base(name), old)
			if perr != nil {
				return nil, fmt.Errorf("%s is left untouched: %w:\n%v", name, ErrUnparsable, perr)
			}
			existing = f
		}
		f, err := merge(existing)
		if err != nil {
			return nil, err
		}
		return f.Bytes()
	})
	if err != nil {
		return res, fmt.Errorf("envfile: %w", err)
	}
	return res, nil
}

// WriteFile writes the file to name atomically, by [UpdateFile]'s lock and the rules of
// package files: a new file gets mode 0600; an existing one keeps its owner, group and
// mode (except that a secret file readable by other users loses those bits, said in
// WriteResult.Notes), and its previous content is kept in .v6kit-backup/ beside it (never
// readable by group or others, never overwritten). It refuses to replace an existing
// file that does not parse ([ErrUnparsable]): that file is left byte for byte as it was.
// Writing the same bytes again touches nothing. A symlink at name owned by root or by
// the user running this (a shared copy linked into each release) is written through:
// the link stays; any other symlink, and a dangling one, is refused.
func (f *File) WriteFile(name string) (WriteResult, error) {
	if _, err := f.Bytes(); err != nil {
		return WriteResult{}, err
	}
	return UpdateFile(context.Background(), name, UpdateOptions{}, func(*File) (*File, error) { return f, nil })
}
