package network

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// maxTokenFile bounds what ReadStreamingToken reads: a Mastodon token is 43 characters.
const maxTokenFile = 4096

// ReadStreamingToken reads an access token for [Options.StreamingToken] from path, once:
// a regular file of mode 0600 or 0400 (any wider mode lets others read the token, and is
// refused with the chmod that fixes it) holding one line; surrounding white space is
// trimmed. Errors name the path, never the file's content.
func ReadStreamingToken(path string) (string, error) {
	// O_NONBLOCK: opening a named pipe for reading would wait for a writer before the
	// mode check below could refuse it (it changes nothing for a regular file).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("network: streaming token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("network: streaming token: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("network: %w: %s is a %s, not a file", ErrTokenFile, path, fileKind(st.Mode()))
	}
	if perm := st.Mode().Perm(); perm != 0o600 && perm != 0o400 {
		return "", fmt.Errorf("network: %w: %s has mode %04o, so others may read the token; run chmod 600 %s", ErrTokenFile, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("network: streaming token: read %s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("network: %w: %s is larger than %d bytes; it must hold only the token", ErrToken, path, maxTokenFile)
	}
	tok := strings.TrimSpace(string(b))
	if err := validToken(tok); err != nil {
		return "", fmt.Errorf("network: %w: %s %v", ErrToken, path, err)
	}
	return tok, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// validToken checks tok against RFC 6750's b64token (letters, digits, -._~+/ then
// optional '='), which covers every token Mastodon (Doorkeeper) issues and keeps
// newlines, spaces and quotes out of the Authorization header. Its errors never quote
// the token.
func validToken(tok string) error {
	if tok == "" {
		return errors.New("is empty: write the access token into it")
	}
	if strings.ContainsAny(tok, "\r\n") {
		return errors.New("holds more than one line: write only the access token")
	}
	body := strings.TrimRight(tok, "=")
	if body == "" {
		return errors.New("holds only '=' characters, not an access token")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return fmt.Errorf("has a character an access token never has at byte %d (only letters, digits and -._~+/, then '=')", i+1)
		}
	}
	return nil
}
