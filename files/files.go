// Package files names what v6kit's writers report about the files they write. Every
// artifact (.env.production, the nginx site, the Redis settings, units, bundles) is
// written the same way: a temp file in the same directory, fsync, rename, fsync of the
// directory, so a reader sees the old content or the new, never a part; an unchanged
// file is not touched; a changed one can be kept as a backup first.
//
// It exists so the writers of every package (envfile, nginxconf, redisconf, …) return
// one public type a third party's module can name; the writing itself is internal.
package files

// Result says what one atomic write did.
type Result struct {
	// Changed is false when the file already held exactly these bytes and mode: it was
	// not touched.
	Changed bool `json:"changed"`
	// Backup is the path of the backup of the previous content, if one was made.
	Backup string `json:"backup,omitempty"`
}
