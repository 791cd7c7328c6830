package pgsetup

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// DefaultLogLinePrefix is PostgreSQL's log_line_prefix since 13: time and backend PID.
const DefaultLogLinePrefix = "%m [%p] "

// logPrefix reads the backend PID out of server log lines written with a given
// log_line_prefix.
type logPrefix struct {
	re  *regexp.Regexp
	hex bool // the PID comes from %c (session ID: start time and PID in hex)
}

// parseLogPrefix turns a log_line_prefix into a pattern matching
// "<prefix>SEVERITY:  message" with the PID captured. It fails when the prefix holds
// neither %p nor %c: the lines of concurrent connections can't be told apart then.
func parseLogPrefix(prefix string) (*logPrefix, error) {
	var b strings.Builder
	b.WriteString("^")
	lp := &logPrefix{}
	havePID := false
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if c != '%' {
			b.WriteString(regexp.QuoteMeta(prefix[i : i+1]))
			continue
		}
		i++
		padded := false
		for i < len(prefix) && (prefix[i] == '-' || prefix[i] >= '0' && prefix[i] <= '9') {
			padded = true
			i++
		}
		if i == len(prefix) {
			break
		}
		switch e := prefix[i]; {
		case e == 'p' && !havePID:
			havePID = true
			if padded {
				b.WriteString(`\s*(\d+)\s*`)
			} else {
				b.WriteString(`(\d+)`)
			}
		case e == 'c' && !havePID:
			havePID, lp.hex = true, true
			b.WriteString(`\s*[0-9a-f]+\.([0-9a-f]+)\s*`)
		case e == '%':
			b.WriteString("%")
		case e == 'q':
			// session processes (backends) print the rest of the prefix too
		case strings.IndexByte("aubdrhlsvxetmniQcp", e) >= 0:
			b.WriteString(`.*?`)
		default:
			// PostgreSQL prints nothing for an unknown escape
		}
	}
	if !havePID {
		return nil, fmt.Errorf("log_line_prefix %q has no %%p (or %%c): the lines of concurrent logins can't be told apart; add [%%p] to it", prefix)
	}
	b.WriteString(`([A-Z][A-Z0-9]*):  (.*)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("log_line_prefix %q: %w", prefix, err)
	}
	lp.re = re
	return lp, nil
}

// parse splits a log line into the backend PID, the severity and the message.
func (lp *logPrefix) parse(line string) (pid int, severity, msg string, ok bool) {
	m := lp.re.FindStringSubmatch(line)
	if m == nil {
		return 0, "", "", false
	}
	base := 10
	if lp.hex {
		base = 16
	}
	n, err := strconv.ParseInt(m[1], base, 32)
	if err != nil || n <= 0 {
		return 0, "", "", false
	}
	return int(n), m[2], m[3], true
}

// backend is what the log says about one server process.
type backend struct {
	received bool   // "connection received" seen
	socket   bool   // host=[local]
	host     string // client host (an address, or a name under log_hostname)
	port     int    // client port
	method   string // from "connection authenticated" or the matched rule
	authLine int    // line of "connection authenticated"
	matched  int    // line of "Connection matched pg_hba.conf line N"
	fatal    string // the FATAL message, when the login failed
}

var (
	receivedRe = regexp.MustCompile(`^connection received: host=(\S+)(?: port=(\d+))?`)
	authRe     = regexp.MustCompile(`^connection authenticated: identity=".*" method=(\S+) \(.*:(\d+)\)$`)
	matchedRe  = regexp.MustCompile(`^Connection matched pg_hba\.conf line (\d+): "(.*)"$`)
)

// logView is the part of the server log after a login began.
type logView struct {
	backends map[int]*backend
	marker   bool // the marker written after the login was seen: every line of it is in
}

// scanLogLines reads log lines after a login began. marker ends the view: lines after it
// belong to later logins.
func scanLogLines(r io.Reader, lp *logPrefix, marker string) logView {
	v := logView{backends: map[int]*backend{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		t := sc.Text()
		if marker != "" && strings.Contains(t, marker) {
			v.marker = true
			break
		}
		if !strings.Contains(t, "connection ") && !strings.Contains(t, "FATAL:") && !strings.Contains(t, "Connection matched") {
			continue // not a line attribution reads: skip the prefix pattern
		}
		pid, sev, msg, ok := lp.parse(t)
		if !ok {
			continue
		}
		b := v.backends[pid]
		if b == nil {
			b = &backend{}
			v.backends[pid] = b
		}
		switch sev {
		case "LOG":
			if m := receivedRe.FindStringSubmatch(msg); m != nil {
				b.received = true
				b.socket = m[1] == "[local]"
				b.host = m[1]
				b.port, _ = strconv.Atoi(m[2])
			} else if m := authRe.FindStringSubmatch(msg); m != nil {
				b.method = m[1]
				b.authLine, _ = strconv.Atoi(m[2])
			}
		case "FATAL":
			if b.fatal == "" {
				b.fatal = msg
			}
		case "DETAIL":
			if m := matchedRe.FindStringSubmatch(msg); m != nil {
				b.matched, _ = strconv.Atoi(m[1])
				if b.method == "" {
					b.method = ruleMethod(m[2])
				}
			}
		}
	}
	return v
}

// ruleMethod is the method of a pg_hba.conf rule as the server quotes it: the last
// field that is not an option (name=value).
func ruleMethod(rule string) string {
	f := strings.Fields(rule)
	for i := len(f) - 1; i > 0; i-- {
		if !strings.Contains(f[i], "=") {
			return f[i]
		}
	}
	return ""
}

// attempt is one verification login as the log has to recognise it.
type attempt struct {
	ok      bool
	pid     int            // backend PID, known when the login succeeded
	client  netip.AddrPort // our end of a TCP connection that reached the server
	socket  bool
	role    string
	reached bool // a connection was made (socket or TCP)
}

// attribution is the verdict on which pg_hba.conf line a login matched.
type attribution struct {
	method, why string
	line        int
	done        bool // certain, or certainly unknown: stop reading the log
}

// attribute ties a login to its backend's log lines: a successful login by its PID, a
// failed TCP login by its client port ("connection received: host=… port=…"), a failed
// socket login only when it is the one failed socket login of the role between the
// start and the marker. Anything less certain is left unknown, with the reason.
func (v logView) attribute(a attempt) attribution {
	if !a.reached {
		return attribution{done: true, why: "the login did not reach the server"}
	}
	if a.ok {
		if b := v.backends[a.pid]; b != nil && b.authLine > 0 {
			return attribution{method: b.method, line: b.authLine, done: true}
		}
		return attribution{done: v.marker, why: "the server log names no pg_hba.conf line for this login (trust logs none; log_connections may be off)"}
	}
	var cands []*backend
	for _, b := range v.backends {
		switch {
		case !b.received:
		case a.socket && b.socket:
			if strings.Contains(b.fatal, fmt.Sprintf("user %q", a.role)) {
				cands = append(cands, b)
			}
		case !a.socket && !b.socket && b.port == int(a.client.Port()):
			if h, err := netip.ParseAddr(b.host); err != nil || h.Unmap() == a.client.Addr().Unmap() {
				cands = append(cands, b)
			}
		}
	}
	switch {
	case len(cands) > 1 && a.socket:
		return attribution{done: true, why: fmt.Sprintf("%d socket logins as %q failed at the same time: which one is this login's can't be told", len(cands), a.role)}
	case len(cands) > 1:
		return attribution{done: true, why: fmt.Sprintf("%d connections from %s appear in the log: which one is this login's can't be told", len(cands), a.client)}
	case a.socket && !v.marker:
		// a socket login carries no client port: only the marker closes the window
		return attribution{why: "a failed socket login carries no client port: it is told apart only up to a marker line (VerifyOptions.LogMarker), and none was seen"}
	case len(cands) == 0 || cands[0].fatal == "":
		// not in the log yet (a logging collector writes it a moment later)
		return attribution{done: v.marker, why: "the server log does not show this login (log_connections off?)"}
	}
	b := cands[0]
	line := b.matched
	if line == 0 {
		line = b.authLine
	}
	switch {
	case line > 0:
		return attribution{method: b.method, line: line, done: true}
	case strings.HasPrefix(b.fatal, "no pg_hba.conf entry"):
		return attribution{done: true, why: "no pg_hba.conf line matches this login"}
	case strings.HasPrefix(b.fatal, "pg_hba.conf rejects connection"):
		return attribution{done: true, why: "a reject line matched; the server does not say which"}
	}
	return attribution{done: true, why: "the server log names no pg_hba.conf line for this failure: " + b.fatal}
}
