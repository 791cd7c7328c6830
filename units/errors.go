package units

import "errors"

// Sentinels for every rule [Deployment.Validate] checks; each problem wraps one, so
// errors.Is(err, units.ErrX) works on the error of [Problems.Err].
var (
	// ErrVersion means the Mastodon version is unknown to v6kit.
	ErrVersion = errors.New("unknown mastodon version: use a release line from 1.6 to 4.7")
	// ErrLayout means the layout is neither debian nor rhel.
	ErrLayout = errors.New("unknown layout: use debian or rhel")
	// ErrUser means the user is not a valid Unix user name.
	ErrUser = errors.New("invalid unix user name: use lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters")
	// ErrPath means a path is relative, unclean or holds characters units cannot carry
	// ('$' only in the paths that start a command line).
	ErrPath = errors.New("invalid path: use an absolute, clean path without spaces, quotes, backslashes, ';' or control characters, and no '$' in a command's path")
	// ErrValue means a value holds a newline or another control character, or is too long.
	ErrValue = errors.New("value cannot go into a unit file: remove newlines and control characters")
	// ErrEnvName means an environment variable name is not a shell identifier.
	ErrEnvName = errors.New("invalid environment variable name: use letters, digits and '_', not starting with a digit")
	// ErrSecretInUnit means a secret was given as a unit environment variable.
	ErrSecretInUnit = errors.New("secrets do not belong in world-readable unit files: keep them in .env.production (mode 0600)")
	// ErrConcurrency means a worker, thread, concurrency or instance count is out of range.
	ErrConcurrency = errors.New("count out of range: use a positive number")
	// ErrQueue means a sidekiq queue name or weight is invalid, or a queue is listed twice.
	ErrQueue = errors.New("invalid sidekiq queue: use a name of letters, digits, '_' and '-', with an optional positive weight")
	// ErrUnknownQueue means no process serves a queue of the release, or a process serves one the release lacks.
	ErrUnknownQueue = errors.New("sidekiq queue mismatch with the mastodon release")
	// ErrScheduler means more than one sidekiq process serves the scheduler queue.
	ErrScheduler = errors.New("exactly one sidekiq process may serve the scheduler queue")
	// ErrPort means a port is out of range or used twice.
	ErrPort = errors.New("port conflict: give web, streaming instances and the exporter distinct ports from 1 to 65535")
	// ErrUnitName means a unit name part holds characters systemd unit names cannot.
	ErrUnitName = errors.New("invalid unit name: use letters, digits, '_', '-' and '.'")
	// ErrBind means a listen address is unusable for the release.
	ErrBind = errors.New("unusable bind address for this mastodon release")
	// ErrExporter means the prometheus exporter was asked for a release without it.
	ErrExporter = errors.New("the prometheus exporter unit exists from mastodon 4.6")
	// ErrTimer means a renewal timer setting is invalid.
	ErrTimer = errors.New("invalid certificate renewal timer setting")
	// ErrProcesses means an unknown or repeated process in Deployment.Processes, none
	// mixed with others, or settings for a process the host does not run.
	ErrProcesses = errors.New("invalid processes: list web, sidekiq and streaming (each once), or none alone")
	// ErrCluster means the hosts of a cluster disagree (release, host names) or leave a
	// job to nobody (no sidekiq, no scheduler) or to several (two schedulers).
	ErrCluster = errors.New("the cluster's hosts do not fit together: one release, distinct host names, every queue served, exactly one scheduler")
	// ErrJob means systemd finished a start, restart or reload job with a result other than "done".
	ErrJob = errors.New("systemd job failed: see `journalctl -u UNIT`")
)
