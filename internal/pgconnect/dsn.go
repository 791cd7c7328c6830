package pgconnect

import (
	"fmt"
	"net"
	"net/url"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultSocketDir is where a DSN without a host connects: Debian's socket directory,
// libpq's compiled-in default there.
const DefaultSocketDir = "/var/run/postgresql"

// DSNKeys are the keys [ParseDSN] accepts. The others (service, passfile, options,
// target_session_attrs …) are refused: they would bring in files or session settings the
// caller did not write out.
var DSNKeys = []string{"host", "port", "user", "password", "dbname", "sslmode", "sslrootcert", "sslcert", "sslkey",
	"connect_timeout", "application_name"}

// ParseDSN reads a libpq connection string, keyword/value ("host=/var/run/postgresql
// user=postgres") or URL ("postgres://postgres@[::1]:5432/postgres?sslmode=disable"),
// without consulting the environment, ~/.pgpass or service files. A missing host is
// [DefaultSocketDir], a missing user the current OS user (as libpq does), a missing
// dbname the user. Keys outside [DSNKeys] and several hosts are refused. Errors never
// quote the connection string (it may hold a password).
func ParseDSN(dsn string) (Params, error) {
	var kv map[string]string
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		kv, err = parseURL(dsn)
	} else {
		kv, err = parseKeywords(dsn)
	}
	if err != nil {
		return Params{}, err
	}
	if v, ok := kv["database"]; ok { // pgx's spelling
		kv["dbname"] = v
		delete(kv, "database")
	}
	for k := range kv {
		if !slices.Contains(DSNKeys, k) {
			return Params{}, fmt.Errorf("%w: the connection string key %q is not supported; use only %s", ErrInvalid, k, strings.Join(DSNKeys, ", "))
		}
	}
	p := Params{Host: kv["host"], User: kv["user"], Password: kv["password"], Database: kv["dbname"],
		SSLMode: kv["sslmode"], SSLRootCert: kv["sslrootcert"], SSLCert: kv["sslcert"], SSLKey: kv["sslkey"],
		ApplicationName: kv["application_name"]}
	if p.Host == "" {
		p.Host = DefaultSocketDir
	}
	if s := kv["port"]; s != "" {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			return Params{}, fmt.Errorf("%w: port %q: give a number from 1 to 65535", ErrInvalid, s)
		}
		p.Port = uint16(n)
	}
	if s := kv["connect_timeout"]; s != "" {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return Params{}, fmt.Errorf("%w: connect_timeout %q: give whole seconds", ErrInvalid, s)
		}
		p.ConnectTimeout = time.Duration(n) * time.Second
	}
	if p.User == "" {
		u, err := user.Current()
		if err != nil {
			return Params{}, fmt.Errorf("%w: no user in the connection string, and the OS user is unknown (%v): add user=postgres", ErrInvalid, err)
		}
		p.User = u.Username
	}
	return p, p.Check()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// parseKeywords follows libpq's conninfo_parse: key = value pairs, values bare (a
// backslash escapes the next byte) or single-quoted (\' and \\ inside).
func parseKeywords(s string) (map[string]string, error) {
	kv := map[string]string{}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return kv, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%w: connection string: missing \"=\" after the word at byte %d", ErrInvalid, start+1)
		}
		if key == "" {
			return nil, fmt.Errorf("%w: connection string: \"=\" without a key at byte %d", ErrInvalid, i+1)
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%w: connection string: the quoted value of %q has no closing quote", ErrInvalid, key)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		if _, dup := kv[key]; dup {
			return nil, fmt.Errorf("%w: connection string: %q is given twice", ErrInvalid, key)
		}
		kv[key] = v.String()
	}
}

// parseURL reads postgres://[user[:password]@][host][:port][/dbname][?key=value&…].
func parseURL(s string) (map[string]string, error) {
	// A socket directory is written percent-encoded in the host part
	// (postgres://%2Fvar%2Frun%2Fpostgresql/db), which net/url refuses: take it out.
	scheme, rest, _ := strings.Cut(s, "://")
	authEnd := strings.IndexAny(rest, "/?")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	auth := rest[:authEnd]
	at := strings.LastIndex(auth, "@")
	hostport := auth[at+1:]
	socket := ""
	if strings.HasPrefix(strings.ToLower(hostport), "%2f") {
		host, port := hostport, ""
		if i := strings.LastIndex(hostport, ":"); i >= 0 {
			host, port = hostport[:i], hostport[i:]
		}
		dir, err := url.PathUnescape(host)
		if err != nil {
			return nil, fmt.Errorf("%w: connection URL: the socket directory is not percent-encoded correctly", ErrInvalid)
		}
		socket = dir
		s = scheme + "://" + auth[:at+1] + "socket.invalid" + port + rest[authEnd:]
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the URL and its password: say where to look instead.
		return nil, fmt.Errorf("%w: connection URL can't be parsed: check the host (IPv6 in [brackets]) and the port, and percent-encode special characters of the user and password", ErrInvalid)
	}
	kv := map[string]string{}
	if u.User != nil {
		kv["user"] = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			kv["password"] = pw
		}
	}
	if strings.Contains(u.Host, ",") {
		return nil, fmt.Errorf("%w: connection URL lists several hosts; give one", ErrInvalid)
	}
	if u.Host != "" {
		host, port := u.Host, ""
		if h, p, err := net.SplitHostPort(u.Host); err == nil {
			host, port = h, p
		} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
		if host != "" {
			kv["host"] = host
		}
		if port != "" {
			kv["port"] = port
		}
	}
	if socket != "" {
		kv["host"] = socket
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		kv["dbname"] = db
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: connection URL: the query after \"?\" is not key=value&… (a value may hold a secret, so it is not quoted here)", ErrInvalid)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, fmt.Errorf("%w: connection URL: %q is given %d times", ErrInvalid, k, len(vs))
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("%w: connection URL: %q is given twice", ErrInvalid, k)
		}
		kv[k] = vs[0]
	}
	return kv, nil
}

// String returns p as a keyword/value connection string that [ParseDSN] reads back to
// p, with the password masked ("password=xxxxx"); use it in messages and logs.
func (p Params) String() string {
	return p.dsn(true)
}

func (p Params) dsn(mask bool) string {
	pw := p.Password
	if mask && pw != "" {
		pw = "xxxxx"
	}
	var kv [][2]string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, [2]string{k, v})
		}
	}
	add("host", p.Host)
	if p.Port != 0 {
		add("port", strconv.Itoa(int(p.Port)))
	}
	add("user", p.User)
	add("password", pw)
	add("dbname", p.Database)
	add("sslmode", p.SSLMode)
	add("sslrootcert", p.SSLRootCert)
	add("sslcert", p.SSLCert)
	add("sslkey", p.SSLKey)
	if p.ConnectTimeout != 0 {
		add("connect_timeout", strconv.Itoa(int(p.ConnectTimeout/time.Second)))
	}
	add("application_name", p.ApplicationName)
	return keywords(kv)
}

// quoteValue escapes \ and ' inside a single-quoted connection string value.
var quoteValue = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// keywords writes key='value' pairs, quoting every value (\ and ' escaped).
func keywords(kv [][2]string) string {
	var b strings.Builder
	for i, e := range kv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e[0])
		b.WriteString("='")
		b.WriteString(quoteValue.Replace(e[1]))
		b.WriteByte('\'')
	}
	return b.String()
}
