package pgsetup

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/v6kit/v6kit/report"
)

// scramIterations is PostgreSQL's default scram_iterations (4096).
const scramIterations = 4096

// SCRAMVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for password
// ("SCRAM-SHA-256$4096:salt$StoredKey:ServerKey"), with a fresh 16-byte salt from rand
// (crypto/rand when nil). Sending the verifier instead of the password keeps the
// plaintext out of the server, its logs and pg_stat_statements.
func SCRAMVerifier(password string, rand_ io.Reader) (string, error) {
	if rand_ == nil {
		rand_ = rand.Reader
	}
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand_, salt); err != nil {
		return "", fmt.Errorf("pgsetup: salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("pgsetup: pbkdf2: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(stored[:]), b64(server)), nil
}

// VerifierMatches reports whether a stored SCRAM-SHA-256 verifier was made from password.
// Any other form (md5, plaintext, malformed) does not match.
func VerifierMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	its, salt64, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return false
	}
	iter, err := strconv.Atoi(its)
	if err != nil || iter < 1 || iter > 1<<20 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return false
	}
	want, err := scramVerifier(password, salt, iter)
	if err != nil {
		return false
	}
	_, wantKeys, _ := strings.Cut(strings.TrimPrefix(want, "SCRAM-SHA-256$"), "$")
	return subtle.ConstantTimeCompare([]byte(wantKeys), []byte(keys)) == 1
}

// Change is one thing pgsetup did or, under a dry run, would do.
type Change struct {
	// What names the change ("create role", "set password", "create database", ...).
	What string `json:"what"`
	// Detail is the SQL run, with any verifier shown as "SCRAM-SHA-256$…".
	Detail string `json:"detail"`
}

// RoleSpec is the role Mastodon logs in as.
type RoleSpec struct {
	// Name is the role name, quoted with pgx.Identifier in every statement.
	Name string
	// Password, when set, is stored as a SCRAM verifier computed client-side; when the
	// stored verifier already matches it nothing is sent. Empty: the password is untouched.
	Password string
}

// EnsureRole creates the role with LOGIN and CREATEDB (Mastodon's setup creates its own
// database), adds whichever of the two an existing role lacks, and sets the password when
// the stored verifier does not match it. It is idempotent: a second run returns no
// changes. Under dryRun it only reports what it would do. conn must be a superuser's.
func EnsureRole(ctx context.Context, conn *pgx.Conn, spec RoleSpec, dryRun bool) ([]Change, error) {
	var ps = checkRoleName(spec.Name)
	if spec.Password != "" {
		ps = append(ps, checkPassword("password", spec.Password).Errors()...)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	ident := pgx.Identifier{spec.Name}.Sanitize()
	var exists, login, createdb bool
	var stored *string
	err := conn.QueryRow(ctx, `SELECT true, rolcanlogin, rolcreatedb, rolpassword FROM pg_authid WHERE rolname = $1`, spec.Name).
		Scan(&exists, &login, &createdb, &stored)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgsetup: read role %q: %w", spec.Name, superuserHint(err))
	}
	var changes []Change
	run := func(what, sql, shown string) error {
		changes = append(changes, Change{What: what, Detail: shown})
		if dryRun {
			return nil
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			var pe *pgconn.PgError
			if what == "create role" && errors.As(err, &pe) && pe.Code == "42710" {
				return nil // created concurrently: fine
			}
			return fmt.Errorf("pgsetup: %s %q: %w", what, spec.Name, err)
		}
		return nil
	}
	if !exists {
		if err := run("create role", "CREATE ROLE "+ident+" LOGIN CREATEDB", "CREATE ROLE "+ident+" LOGIN CREATEDB"); err != nil {
			return changes, err
		}
	} else if !login || !createdb {
		if err := run("grant LOGIN CREATEDB", "ALTER ROLE "+ident+" LOGIN CREATEDB", "ALTER ROLE "+ident+" LOGIN CREATEDB"); err != nil {
			return changes, err
		}
	}
	if spec.Password != "" && (stored == nil || !VerifierMatches(*stored, spec.Password)) {
		v, err := SCRAMVerifier(spec.Password, nil)
		if err != nil {
			return changes, err
		}
		sql := "ALTER ROLE " + ident + " PASSWORD " + quoteLiteral(v)
		if err := run("set password", sql, "ALTER ROLE "+ident+" PASSWORD 'SCRAM-SHA-256$…'"); err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// EnsureDatabase creates database name owned by owner (UTF8, from template0) unless it
// exists. An existing database owned by another role is reported, not changed: moving
// the owner of a live database is the admin's decision. Idempotent; dryRun only reports.
func EnsureDatabase(ctx context.Context, conn *pgx.Conn, name, owner string, dryRun bool) ([]Change, error) {
	ps := checkRoleName(owner)
	checkHBAName(&ps, "database", name)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	var curOwner string
	err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&curOwner)
	switch {
	case err == nil:
		if curOwner != owner {
			return nil, fmt.Errorf("pgsetup: database %q exists and is owned by %q, not %q: run ALTER DATABASE %s OWNER TO %s if Mastodon should own it",
				name, curOwner, owner, pgx.Identifier{name}.Sanitize(), pgx.Identifier{owner}.Sanitize())
		}
		return nil, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("pgsetup: read database %q: %w", name, err)
	}
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " OWNER " + pgx.Identifier{owner}.Sanitize() + " ENCODING 'UTF8' TEMPLATE template0"
	changes := []Change{{What: "create database", Detail: sql}}
	if dryRun {
		return changes, nil
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P04" {
			return nil, nil
		}
		return nil, fmt.Errorf("pgsetup: create database %q: %w", name, err)
	}
	return changes, nil
}

func checkRoleName(name string) report.Problems {
	var ps report.Problems
	checkHBAName(&ps, "role", name)
	return ps
}

// quoteLiteral quotes a SQL string literal (standard_conforming_strings is on by default
// since 9.1; E” is used when a backslash is present so either setting reads it alike).
func quoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

func superuserHint(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		return fmt.Errorf("%w: %w", ErrNotSuperuser, err)
	}
	return err
}
