package mastodon

// DBPassRawYAML reports whether config/database.yml pastes DB_PASS unquoted into YAML
// (1.6.1 … 2.9.x: `password: <%= ENV['DB_PASS'] %>` without quotes), so that a password holding
// YAML syntax (#, ": ", quotes, a leading * & ! % @ …) or one YAML types as a number,
// boolean or null reaches PostgreSQL changed, or stops Rails from booting. From 3.0.0 the
// value is JSON-quoted (mastodon.md §1.5 and mastodon-env-vars.tsv: "<=2.9.x inserted
// raw into YAML; >=3.x JSON-quoted").
func (r Release) DBPassRawYAML() bool { return r.Version.Before(V(3, 0, 0)) }
