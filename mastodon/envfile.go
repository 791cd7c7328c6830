package mastodon

// EnvSection is one titled group of keys of .env.production, in the order Mastodon's
// .env.production.sample lists them. v6kit writes generated keys in these sections so a
// generated file reads like the sample an admin knows.
type EnvSection struct {
	// Title is the section's heading comment, e.g. "PostgreSQL".
	Title string
	// Keys lists the section's keys in the sample's order (only those this release reads).
	Keys []string
}

// EnvSections lists the sections of .env.production for this release, with only the
// keys this release reads. Two layouts exist:
//   - before 3.0 the 1.6.1 sample's order: service dependencies (Redis, then PostgreSQL)
//     first, then federation, application secrets, VAPID keys, registrations, e-mail, S3;
//   - from 3.0 the later sample's order (as read from the 4.x .env.production.sample):
//     federation first, then Redis, PostgreSQL, Elasticsearch, secrets, encryption
//     secrets (4.3.0+), web push, registrations, sending mail, file storage.
//
// The 3.0 boundary is v6kit's choice (the sample was reorganised during 2.x–3.x; both
// orders are read correctly by every release, so only readability depends on it). The
// last section, "IPv6 and proxies", is v6kit's own: ALLOWED_PRIVATE_ADDRESSES (3.3.0+)
// and TRUSTED_PROXY_IP, which the sample does not list.
func (r Release) EnvSections() []EnvSection {
	federation := []string{"LOCAL_DOMAIN", "WEB_DOMAIN", "ALTERNATE_DOMAINS", "LOCAL_HTTPS",
		"AUTHORIZED_FETCH", "LIMITED_FEDERATION_MODE"}
	redis := []string{"REDIS_HOST", "REDIS_PORT", "REDIS_USER", "REDIS_PASSWORD", "REDIS_DB", "REDIS_URL"}
	postgres := []string{"DB_HOST", "DB_USER", "DB_NAME", "DB_PASS", "DB_PORT", "DB_SSLMODE", "DATABASE_URL"}
	es := []string{"ES_ENABLED", "ES_HOST", "ES_PORT", "ES_USER", "ES_PASS"}
	secrets := []string{"SECRET_KEY_BASE", "OTP_SECRET"}
	vapid := []string{"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}
	registrations := []string{"SINGLE_USER_MODE"}
	mail := []string{"SMTP_SERVER", "SMTP_PORT", "SMTP_LOGIN", "SMTP_PASSWORD", "SMTP_FROM_ADDRESS",
		"SMTP_AUTH_METHOD", "SMTP_OPENSSL_VERIFY_MODE", "SMTP_ENABLE_STARTTLS", "SMTP_ENABLE_STARTTLS_AUTO", "SMTP_TLS"}
	storage := []string{"S3_ENABLED", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_ALIAS_HOST",
		"S3_REGION", "S3_ENDPOINT", "S3_HOSTNAME", "S3_PROTOCOL"}
	network := []string{"ALLOWED_PRIVATE_ADDRESSES", "TRUSTED_PROXY_IP"}

	var out []EnvSection
	add := func(title string, keys ...[]string) {
		var ks []string
		for _, group := range keys {
			for _, k := range group {
				if r.Reads(k) || r.secretKey(k) {
					ks = append(ks, k)
				}
			}
		}
		if len(ks) > 0 {
			out = append(out, EnvSection{Title: title, Keys: ks})
		}
	}
	if r.Version.Before(V(3, 0, 0)) { // 1.6.1 sample order
		add("Service dependencies", redis, postgres)
		add("Federation", federation)
		add("Application secrets", []string{"PAPERCLIP_SECRET"}, secrets)
		add("VAPID keys", vapid)
		add("Registrations", registrations)
		add("E-mail configuration", mail)
		add("Elasticsearch (optional)", es)
		add("S3 (optional)", storage)
		add("IPv6 and proxies", network)
		return out
	}
	add("Federation", federation)
	add("Redis", redis)
	add("PostgreSQL", postgres)
	add("Elasticsearch (optional)", es)
	add("Secrets", secrets)
	add("Encryption secrets", arKeys) // 4.3.0+
	add("Web Push", vapid)
	add("Registrations", registrations)
	add("Sending mail", mail)
	add("File storage (optional)", storage)
	add("IPv6 and proxies", network)
	return out
}

// secretKey reports whether name is one of the generated secrets of this release (the
// survey marks a few of them as consumed by Rails core rather than Mastodon's code).
func (r Release) secretKey(name string) bool {
	_, ok := r.SecretByName(name)
	return ok
}

// EnvSectionOf returns the title of the section that holds key in this release, or "".
func (r Release) EnvSectionOf(key string) string {
	for _, s := range r.EnvSections() {
		for _, k := range s.Keys {
			if k == key {
				return s.Title
			}
		}
	}
	return ""
}
