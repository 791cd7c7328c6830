package envfile_test

import (
	"fmt"
	"strings"

	"github.com/v6kit/v6kit/envfile"
	"github.com/v6kit/v6kit/mastodon"
)

// zeros is a stand-in random source so the example's output is stable; real callers
// leave Options.Rand nil (crypto/rand).
type zeros struct{ n byte }

func (z *zeros) Read(p []byte) (int, error) {
	for i := range p {
		z.n++
		p[i] = z.n
	}
	return len(p), nil
}

// A new .env.production for Mastodon 4.7 from typed settings: Mastodon's defaults for a
// socket-connected PostgreSQL and a loopback Redis, every secret 4.7 needs generated.
func Example() {
	f, problems := envfile.New(envfile.Config{
		LocalDomain: "bücher.example",
		SMTP:        envfile.SMTP{Server: "smtp.example.org", Password: "pa$$ word"},
	}, envfile.Options{Release: mastodon.MustLookup("4.7"), Rand: &zeros{}})
	if err := problems.Err(); err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range problems {
		fmt.Println(p) // notes only: punycode conversion, generated secrets
	}
	domain, _ := f.Get("LOCAL_DOMAIN")
	fmt.Println("LOCAL_DOMAIN =", domain)
	b, _ := f.Bytes()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "SMTP_PASSWORD") || strings.HasPrefix(line, "DB_HOST") {
			fmt.Println(line)
		}
	}
	// Output:
	// LOCAL_DOMAIN: info: "bücher.example" written as "xn--bcher-kva.example" (IDNA/punycode, lower case)
	// SECRET_KEY_BASE: info: generated SECRET_KEY_BASE
	// ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY: info: generated ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY
	// ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT: info: generated ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT
	// ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY: info: generated ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY
	// VAPID_PRIVATE_KEY: info: generated VAPID key pair
	// LOCAL_DOMAIN = xn--bcher-kva.example
	// DB_HOST=/var/run/postgresql
	// SMTP_PASSWORD='pa$$ word'
}

// Merging into an existing file keeps every secret and every hand-written line, and
// Validate reports what the two readers of the file would read differently.
func ExampleMerge() {
	existing, err := envfile.Parse([]byte(`LOCAL_DOMAIN=social.example.org
SECRET_KEY_BASE=` + strings.Repeat("ab", 64) + `
OTP_SECRET=` + strings.Repeat("cd", 64) + `
DB_PASS=pa$$word   # hand-written
REDIS_NAMESPACE=mastodon
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	merged, problems := envfile.Merge(existing, envfile.Config{}, envfile.Options{Release: mastodon.MustLookup("4.4"), Rand: &zeros{}})
	for _, p := range problems.Errors() {
		fmt.Println(p)
	}
	kept, _ := merged.Get("SECRET_KEY_BASE")
	fmt.Println("SECRET_KEY_BASE kept:", kept == strings.Repeat("ab", 64))
	// Output:
	// .env.production:4 DB_PASS: Rails reads <secret, 3 characters> and the streaming server reads <secret, 8 characters> (Ruby's dotenv 3.1.8 expands $NAME and ${NAME}; Node's does not): one of them gets the wrong value. Write the intended value in single quotes, e.g. DB_PASS='…'
	// .env.production:5 REDIS_NAMESPACE: REDIS_NAMESPACE aborts boot from Mastodon 4.4.0: migrate the keys with mastodon/redis_namespace_migration, set ES_PREFIX to the old namespace if you use Elasticsearch, then remove the line
	// SECRET_KEY_BASE kept: true
}

// FormatValue picks the one form both readers read byte for byte, or says why none exists.
func ExampleFormatValue() {
	for _, v := range []string{"social.example.org", "pa$$word", "it's", "it's $5", "two\nlines"} {
		form, err := envfile.FormatValue(v)
		if err != nil {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println(form)
	}
	// Output:
	// social.example.org
	// 'pa$$word'
	// "it's"
	// refused: value cannot be written so that Rails and streaming read it alike: it holds a single quote and '$'; single quotes cannot hold the quote, and in double quotes Rails treats '$' specially while streaming does not
	// refused: value contains a newline, NUL or other control character: U+000A cannot be carried by a .env line (Ruby's dotenv reads only one line per value)
}
