package pgsetup

import (
	"fmt"
	"os"
	"strings"

	"github.com/v6kit/v6kit/internal/fsutil"
	"github.com/v6kit/v6kit/report"
)

// ReadPasswordFile reads a role password from a file: one line, a final newline allowed.
// A file other users can read gives a warning (the password is as safe as the file);
// an empty file or one with several lines is an error.
func ReadPasswordFile(name string) (string, report.Problems, error) {
	var ps report.Problems
	st, err := os.Stat(name)
	if err != nil {
		return "", nil, fmt.Errorf("pgsetup: password file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", nil, fmt.Errorf("pgsetup: password file %s is not a regular file", name)
	}
	if st.Mode().Perm()&0o007 != 0 {
		ps.Warnf(name, ErrPasswordFile, "mode %04o lets every user on this host read the database password; run chmod 600 %s", st.Mode().Perm(), name)
	}
	data, err := fsutil.ReadInput(name) // never blocks on a FIFO swapped in after the Stat
	if err != nil {
		return "", ps, fmt.Errorf("pgsetup: password file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	switch {
	case pw == "":
		return "", ps, fmt.Errorf("pgsetup: password file %s is empty: %w", name, ErrPassword)
	case strings.ContainsAny(pw, "\r\n"):
		return "", ps, fmt.Errorf("pgsetup: password file %s holds more than one line: %w", name, ErrPassword)
	}
	return pw, ps, nil
}
