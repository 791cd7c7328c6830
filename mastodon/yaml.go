package mastodon

// Rails reads part of its configuration from YAML files that ERB fills from the
// environment (config/database.yml always; config/email.yml and other config_for files
// from 4.4.0). Where the template pastes ENV['X'] without `.to_json`, the value becomes a
// plain YAML scalar, so Ruby's YAML (Psych, YAML 1.1, loaded unsafely as Rails does) types
// it: `::1` becomes a Symbol, `0123` the integer 83, `yes` true, `*x` an alias (boot
// fails), `/x #c` loses its comment, `{/x}` becomes a hash. [Release.YAMLSlot] says, per
// release, which variables are pasted that way and what Rails expects there.
//
// Sources, read in Mastodon's history: config/database.yml (DB_* since 1.x; DB_SSLMODE
// from 2.8.0, mastodon#10210; DB_PASS JSON-quoted from 3.5.0, mastodon#17627; REPLICA_*
// from 4.2.0, mastodon#25693/#26386; REPLICA_DB_TASKS from 4.4.0, mastodon#32908),
// config/email.yml (4.4.0, mastodon#35191, bulk settings #35203; server, login,
// password and addresses JSON-quoted from 4.4.1, mastodon#35314), config/sidekiq.yml.

// YAMLKind is what Rails expects in a YAML slot.
type YAMLKind int

// The kinds of YAML slot.
const (
	// YAMLString must read back as the very same string.
	YAMLString YAMLKind = iota
	// YAMLInt is a port, a pool size or a concurrency: a decimal integer.
	YAMLInt
	// YAMLBool is true or false.
	YAMLBool
)

// String names the kind: "text", "integer" or "boolean".
func (k YAMLKind) String() string {
	switch k {
	case YAMLInt:
		return "integer"
	case YAMLBool:
		return "boolean"
	}
	return "text"
}

// YAMLSlot is one place where a release pastes a variable unquoted into YAML.
type YAMLSlot struct {
	// File is the YAML file, e.g. "config/database.yml".
	File string
	// Kind is what Rails expects the value to read as.
	Kind YAMLKind
}

type yamlFact struct {
	name        string
	file        string
	kind        YAMLKind
	first, last Version // last zero: still pasted raw
}

var yamlFacts = []yamlFact{
	{"DB_HOST", "config/database.yml", YAMLString, V(1, 0, 0), Version{}},
	{"DB_USER", "config/database.yml", YAMLString, V(1, 0, 0), Version{}},
	{"DB_NAME", "config/database.yml", YAMLString, V(1, 0, 0), Version{}},
	{"DB_PORT", "config/database.yml", YAMLInt, V(1, 0, 0), Version{}},
	{"DB_POOL", "config/database.yml", YAMLInt, V(1, 0, 0), Version{}},
	{"MAX_THREADS", "config/database.yml", YAMLInt, V(1, 0, 0), Version{}}, // the pool when DB_POOL is unset
	{"PREPARED_STATEMENTS", "config/database.yml", YAMLBool, V(1, 2, 0), Version{}},
	{"DB_SSLMODE", "config/database.yml", YAMLString, V(2, 8, 0), Version{}},
	{"DB_PASS", "config/database.yml", YAMLString, V(1, 0, 0), V(3, 4, 99)}, // JSON-quoted from 3.5.0
	{"REPLICA_DB_HOST", "config/database.yml", YAMLString, V(4, 2, 0), Version{}},
	{"REPLICA_DB_USER", "config/database.yml", YAMLString, V(4, 2, 0), Version{}},
	{"REPLICA_DB_NAME", "config/database.yml", YAMLString, V(4, 2, 0), Version{}},
	{"REPLICA_DB_PORT", "config/database.yml", YAMLInt, V(4, 2, 0), Version{}},
	{"REPLICA_PREPARED_STATEMENTS", "config/database.yml", YAMLBool, V(4, 2, 0), Version{}},
	{"REPLICA_DB_TASKS", "config/database.yml", YAMLBool, V(4, 4, 0), Version{}},
	{"SIDEKIQ_CONCURRENCY", "config/sidekiq.yml", YAMLInt, V(4, 1, 0), Version{}},
	// config/email.yml, 4.4.0+: these stay raw.
	{"SMTP_DELIVERY_METHOD", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"SMTP_PORT", "config/email.yml", YAMLInt, V(4, 4, 0), Version{}},
	{"SMTP_DOMAIN", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"LOCAL_DOMAIN", "config/email.yml", YAMLString, V(4, 4, 0), Version{}}, // SMTP_DOMAIN's fallback
	{"SMTP_AUTH_METHOD", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"SMTP_CA_FILE", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"SMTP_OPENSSL_VERIFY_MODE", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"SMTP_ENABLE_STARTTLS", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"BULK_SMTP_PORT", "config/email.yml", YAMLInt, V(4, 4, 0), Version{}},
	{"BULK_SMTP_DOMAIN", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"BULK_SMTP_AUTH_METHOD", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"BULK_SMTP_CA_FILE", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"BULK_SMTP_OPENSSL_VERIFY_MODE", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	{"BULK_SMTP_ENABLE_STARTTLS", "config/email.yml", YAMLString, V(4, 4, 0), Version{}},
	// config/email.yml in 4.4.0 only: JSON-quoted from 4.4.1 (mastodon#35314).
	{"SMTP_SERVER", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"SMTP_LOGIN", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"SMTP_PASSWORD", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"SMTP_FROM_ADDRESS", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"SMTP_REPLY_TO", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"SMTP_RETURN_PATH", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"BULK_SMTP_SERVER", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"BULK_SMTP_LOGIN", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
	{"BULK_SMTP_PASSWORD", "config/email.yml", YAMLString, V(4, 4, 0), V(4, 4, 0)},
}

// YAMLSlot reports whether this release pastes the variable name unquoted into a YAML
// file Rails loads, and where. Exact patch versions count: SMTP_PASSWORD is raw in 4.4.0
// only, so 4.4.0 and 4.4.22 differ.
func (r Release) YAMLSlot(name string) (YAMLSlot, bool) {
	for _, f := range yamlFacts {
		if f.name != name || r.Version.Before(f.first) {
			continue
		}
		if !f.last.IsZero() && f.last.Before(r.Version) {
			continue
		}
		return YAMLSlot{File: f.file, Kind: f.kind}, true
	}
	return YAMLSlot{}, false
}

// YAMLPasted lists the variables this release pastes unquoted into YAML, in a stable
// order.
func (r Release) YAMLPasted() []string {
	var out []string
	for _, f := range yamlFacts {
		if _, ok := r.YAMLSlot(f.name); ok {
			out = append(out, f.name)
		}
	}
	return out
}
