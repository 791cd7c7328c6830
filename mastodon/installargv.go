package mastodon

// The install commands as argv (one element per argument, never a shell string), for an
// installer that executes them: the same commands as [Release.BundleInstallCommands],
// [Release.JSInstallCommand], [Release.DBSetupCommand], [Release.AssetsCommand] and
// [Release.OwnerCommand], with the environment apart.

// Command is one command of the install: Env (KEY=VALUE) set for Argv.
type Command struct {
	Env  []string
	Argv []string
}

// GitRepository is Mastodon's upstream repository (every release line).
const GitRepository = "https://github.com/mastodon/mastodon.git"

// GitTag is the tag of the release in Mastodon's repository: "v" + version (every
// release since 1.0 is tagged so, e.g. v4.3.2).
func (r Release) GitTag() string { return "v" + r.Version.String() }

// BundleInstallArgv installs the gems for production: deployment mode, without the
// development and test groups (the install guide, 1.6 … 4.7). The guide's
// `-j$(getconf _NPROCESSORS_ONLN)` is left out: Bundler 2.1+ (every release from 3.0)
// already installs with one job per processor.
func (r Release) BundleInstallArgv() []Command {
	return []Command{
		{Argv: []string{"bundle", "config", "deployment", "true"}},
		{Argv: []string{"bundle", "config", "without", "development test"}},
		{Argv: []string{"bundle", "install"}},
	}
}

// CorepackEnable is the command run as root before the JavaScript install from 4.3.0
// (Yarn 4 through corepack; `corepack enable` writes yarn and pnpm links next to node,
// e.g. /usr/bin, so it needs root). Nil before 4.3.0 (Yarn 1, installed by the admin).
func (r Release) CorepackEnable() []string {
	if r.AtLeast(4, 3, 0) {
		return []string{"corepack", "enable"}
	}
	return nil
}

// JSInstallArgv installs the JavaScript packages as the mastodon user: Yarn 4 with an
// immutable lockfile from 4.3.0, Yarn 1 with a frozen lockfile before.
func (r Release) JSInstallArgv() Command {
	if r.AtLeast(4, 3, 0) {
		return Command{Argv: []string{"yarn", "install", "--immutable"}}
	}
	return Command{Argv: []string{"yarn", "install", "--pure-lockfile"}}
}

// JSInstalledMarker is the file (relative to the checkout) a finished JavaScript install
// leaves: Yarn 4's node_modules/.yarn-state.yml from 4.3.0, Yarn 1's
// node_modules/.yarn-integrity before.
func (r Release) JSInstalledMarker() string {
	if r.AtLeast(4, 3, 0) {
		return "node_modules/.yarn-state.yml"
	}
	return "node_modules/.yarn-integrity"
}

// DBSetupArgv is [Release.DBSetupCommand] as argv: it erases an existing database, so
// an installer runs it only when the schema is not loaded yet.
func (r Release) DBSetupArgv() Command {
	return Command{Env: []string{"RAILS_ENV=production", "SAFETY_ASSURED=1"}, Argv: []string{"bundle", "exec", "rails", "db:setup"}}
}

// AssetsArgv is [Release.AssetsCommand] as argv (SECRET_KEY_BASE_DUMMY from 4.3.0).
func (r Release) AssetsArgv() Command {
	env := []string{"RAILS_ENV=production"}
	if r.AtLeast(4, 3, 0) {
		env = append(env, "SECRET_KEY_BASE_DUMMY=1")
	}
	return Command{Env: env, Argv: []string{"bundle", "exec", "rails", "assets:precompile"}}
}

// OwnerArgv is [Release.OwnerCommand] as argv: tootctl from 2.6.0 (--approve from
// 4.2.0, role Owner from 4.0.0, admin before). Before 2.6.0 there is no command (the
// owner signs up and is made admin with a rake task): ok is false.
func (r Release) OwnerArgv(username, email string) (c Command, ok bool) {
	argv := []string{"bin/tootctl", "accounts", "create", username, "--email", email, "--confirmed"}
	switch {
	case r.AtLeast(4, 2, 0):
		argv = append(argv, "--approve", "--role", "Owner")
	case r.AtLeast(4, 0, 0):
		argv = append(argv, "--role", "Owner")
	case r.AtLeast(2, 6, 0):
		argv = append(argv, "--role", "admin")
	default:
		return Command{}, false
	}
	return Command{Env: []string{"RAILS_ENV=production"}, Argv: argv}, true
}

// AssetsBuiltMarker is the directory (relative to the checkout) the asset build
// fills: public/packs (webpacker up to 4.3, Vite from 4.4 both write there).
func (r Release) AssetsBuiltMarker() string { return "public/packs" }
