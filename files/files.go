// Package files names what v6kit's writers report about the files they write, and states
// what v6kit promises about your files. Every writer (envfile, nginxconf, redisconf,
// units, pgsetup, bundle, haproxy, keepalived, pgbouncer, egress, firewall) follows the
// same rules:
//
//   - Atomic: a temp file in the same directory (a short name, so a 255-byte file name
//     can still be updated), fsync, rename, fsync of the directory. A reader sees the old
//     content or the new, never a part; an unchanged file is not touched.
//   - One run at a time: every read-merge-write holds an exclusive flock on a sibling
//     lock file (.NAME.v6kit-lock) from the read to the rename. A second run waits
//     (bounded, naming the holder's PID) or, asked not to wait (--no-wait), fails at
//     once. The second run reads the file the first one wrote and merges into it: no
//     update is lost, and no secret is generated twice. A set of files (a bundle tree,
//     a unit directory, egress's files, pgbouncer's pair) has one lock beside it; a
//     bundle tree whose parent directory is missing gets it at the first read, so two
//     runs into a new directory take turns too.
//   - Symlinks: a link at a target is followed only when it is owned by root or by the
//     user running v6kit and points at an existing regular file; the link stays, the file
//     it points to is replaced (Debian's sites-enabled → sites-available, a release's
//     .env.production → shared/). A link owned by anyone else is refused, at every step
//     of a chain (a second link, or a directory swapped for a link, on the way from the
//     first link to the file) as at the first, and a dangling
//     link (an unmounted volume) or a target that exists but cannot be read is an error
//     naming it: never a new file, never new secrets. Names v6kit creates itself (lock
//     files, markers, backups, the backup directory) are never followed if they are links.
//   - Non-regular files: a FIFO, socket, device or directory where a file is expected
//     (.env.production, a password file, an nginx --out, a unit file) is refused without
//     blocking.
//   - Owner, group and mode are kept when a file is rewritten (root rewriting a
//     mastodon:mastodon 0600 .env.production leaves it so; an nginx site root:www-data
//     0640 stays so); when they cannot be kept (not root, someone else's file) nothing is
//     written, and the refused run leaves nothing behind: no .v6kit-backup/, no temp file,
//     no lock file of its own. Its error names the file or directory, its owner and the
//     fix (run as root or as that owner). A secret file that other users could read loses those bits, and any change
//     to a secret file's mode is said in [Result.Notes]. v6kit never loosens a mode.
//   - Backups: the previous content is kept under a name no run used before
//     (sub-second stamp, created exclusively): a backup is never overwritten. nginx sites,
//     .env.production and pg_hba.conf keep theirs in the sibling directory .v6kit-backup/,
//     where no include DIR/* picks them up; a backup of a secret file is 0600-or-tighter
//     and keeps the file's owner.
//   - Leftovers: temp files of a killed run are found by the next run, reported, and
//     removed when they are ours and older than the lock we hold; a run killed between
//     the renames of a set of files (units, a bundle) is reported by the next one, which
//     writes the whole set again.
//   - All or nothing: a set of files (a bundle, a unit set) is staged completely before
//     the first file is replaced; if a replacement fails, the files already replaced are
//     put back and the error names each one.
//
// It exists so the writers of every package return one public type a third party's
// module can name; the writing itself is internal.
package files

import "errors"

// ErrNothingToWrite, returned by the merge function of a read-merge-write (such as
// envfile.UpdateFile), writes nothing, and the update then returns no error.
var ErrNothingToWrite = errors.New("nothing to write")

// Result says what one atomic write did.
type Result struct {
	// Changed is false when the file already held exactly these bytes and mode: it was
	// not touched.
	Changed bool `json:"changed"`
	// Backup is the path of the backup of the previous content, if one was made.
	Backup string `json:"backup,omitempty"`
	// Target is the file actually replaced when the name given was a symlink (the link
	// stays); empty otherwise.
	Target string `json:"target,omitempty"`
	// Notes says what else the write found or did: leftovers of an interrupted run
	// removed, a secret file's mode tightened.
	Notes []string `json:"notes,omitempty"`
}
