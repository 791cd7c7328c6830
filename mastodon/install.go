package mastodon

// Install commands the admin runs in the Mastodon checkout that an installer built on
// v6kit leaves to them (they need the checkout, Ruby and Node).

// BundleInstallCommands are the commands that install the Ruby gems for production, as
// Mastodon's install guide gives them for every release line (1.6 … 4.7): deployment
// mode, without the development and test groups, one job per CPU.
func (r Release) BundleInstallCommands() []string {
	return []string{
		"bundle config deployment 'true'",
		"bundle config without 'development test'",
		"bundle install -j$(getconf _NPROCESSORS_ONLN)",
	}
}

// JSInstallCommand installs the JavaScript packages: Yarn 1 with a frozen lockfile up to
// 4.2, Yarn 4 through corepack from 4.3.0 (mastodon.md §4.2: "Yarn 1 ≤4.2, Yarn 4 via
// corepack ≥4.3").
func (r Release) JSInstallCommand() string {
	if r.AtLeast(4, 3, 0) {
		return "corepack enable && yarn install --immutable"
	}
	return "yarn install --pure-lockfile"
}
