package mastodon

// DBPassRawYAML reports whether config/database.yml pastes DB_PASS unquoted into YAML
// (1.x … 3.4.x: `password: <%= ENV['DB_PASS'] %>` without quotes), so that a password holding
// YAML syntax (#, ": ", quotes, a leading * & ! % @ …) or one YAML types as a number,
// boolean or null reaches PostgreSQL changed, or stops Rails from booting. From 3.5.0 the
// value is JSON-quoted: mastodon#17627 ("Escape database passwords in
// config/database.yml", merged 2022-02-25, first released in 3.5.0 on 2022-03-30; the
// survey's "≥3.x JSON-quoted" was wrong for 3.0 … 3.4). Same fact as
// [Release.YAMLSlot]("DB_PASS").
func (r Release) DBPassRawYAML() bool { _, raw := r.YAMLSlot("DB_PASS"); return raw }
