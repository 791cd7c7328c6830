package mastodon

// DotenvPair is one pair of the dotenv readers that parse .env.production: Ruby's dotenv
// gem, with which the Rails processes (web, sidekiq, tootctl) read it, and Node's dotenv
// npm package, with which the streaming server reads it. Each release pins its own pair
// in Gemfile.lock and yarn.lock, and the versions differ in what they read (see the
// methods).
type DotenvPair struct {
	// Gem is the version of Ruby's dotenv gem (Rails).
	Gem Version
	// Node is the version of Node's dotenv package (streaming).
	Node Version
}

// String names the pair, e.g. "Ruby dotenv 3.2.0 + Node dotenv 17.4.2".
func (p DotenvPair) String() string {
	return "Ruby dotenv " + p.Gem.String() + " + Node dotenv " + p.Node.String()
}

// dotenvPin is one range of releases that pins the same pair (or pairs).
type dotenvPin struct {
	from  Version // first release of the range
	pairs []DotenvPair
}

func pair(gem, node Version) DotenvPair { return DotenvPair{Gem: gem, Node: node} }

// dotenvPins lists what Gemfile.lock (dotenv / dotenv-rails) and yarn.lock (what the
// dotenv range of package.json, from 4.3 streaming/package.json, resolves to) pin at each
// release's "Bump version" commit, oldest first; a range lasts until the next one. Read
// from the upstream history as carried by the glitch-soc/mastodon repository. Where a
// release's lock files were not read (2.9.4, 3.5.4–3.5.13, 4.2.1–4.2.13), the range
// carries every pair it may hold, so that a check holds for all of them.
var dotenvPins = []dotenvPin{
	{V(1, 4, 1), []DotenvPair{pair(V(2, 2, 1), V(4, 0, 0))}},                                 // 1.4.1 … 2.3.x (1.6.1: efec5072)
	{V(2, 4, 0), []DotenvPair{pair(V(2, 2, 2), V(4, 0, 0))}},                                 // 2.4.0 … 2.5.0
	{V(2, 5, 1), []DotenvPair{pair(V(2, 5, 0), V(4, 0, 0))}},                                 // 2.5.1 … 2.6.5
	{V(2, 7, 0), []DotenvPair{pair(V(2, 6, 0), V(6, 2, 0))}},                                 // 2.7.0 … 2.7.3
	{V(2, 7, 4), []DotenvPair{pair(V(2, 7, 1), V(6, 2, 0))}},                                 // 2.7.4
	{V(2, 8, 0), []DotenvPair{pair(V(2, 7, 2), V(6, 2, 0))}},                                 // 2.8.x
	{V(2, 9, 0), []DotenvPair{pair(V(2, 7, 2), V(8, 0, 0))}},                                 // 2.9.0 … 2.9.2
	{V(2, 9, 3), []DotenvPair{pair(V(2, 7, 5), V(8, 0, 0))}},                                 // 2.9.3 … 3.0.x (2.9.4 not read)
	{V(3, 1, 0), []DotenvPair{pair(V(2, 7, 5), V(8, 2, 0))}},                                 // 3.1.0 … 3.2.0
	{V(3, 2, 1), []DotenvPair{pair(V(2, 7, 6), V(8, 2, 0))}},                                 // 3.2.1 … 3.3.x
	{V(3, 4, 0), []DotenvPair{pair(V(2, 7, 6), V(9, 0, 1))}},                                 // 3.4.0
	{V(3, 4, 1), []DotenvPair{pair(V(2, 7, 6), V(9, 0, 2))}},                                 // 3.4.1 … 3.4.4
	{V(3, 4, 5), []DotenvPair{pair(V(2, 7, 6), V(10, 0, 0))}},                                // 3.4.5, 3.4.6
	{V(3, 5, 0), []DotenvPair{pair(V(2, 7, 6), V(16, 0, 0))}},                                // 3.5.0 … 3.5.2
	{V(3, 5, 3), []DotenvPair{pair(V(2, 7, 6), V(16, 0, 1))}},                                // 3.5.3
	{V(3, 5, 4), []DotenvPair{pair(V(2, 7, 6), V(16, 0, 1)), pair(V(2, 8, 1), V(16, 0, 3))}}, // 3.5.4 … (not read)
	{V(4, 0, 0), []DotenvPair{pair(V(2, 8, 1), V(16, 0, 3))}},                                // 4.0.0 … 4.1.2
	{V(4, 1, 3), []DotenvPair{pair(V(2, 8, 1), V(16, 3, 1))}},                                // 4.1.3 … 4.2.0 (4.2.1+ not read)
	{V(4, 3, 0), []DotenvPair{pair(V(3, 1, 4), V(16, 4, 5))}},                                // 4.3.x (all 24 read)
	{V(4, 4, 0), []DotenvPair{pair(V(3, 1, 8), V(16, 5, 0))}},                                // 4.4.0 … 4.5.11
	{V(4, 5, 12), []DotenvPair{pair(V(3, 1, 8), V(16, 6, 1))}},                               // 4.5.12 … 4.5.15
	{V(4, 6, 0), []DotenvPair{pair(V(3, 2, 0), V(17, 4, 2))}},                                // 4.6.x and 4.7.0-alpha (main)
}

// DotenvPairs returns the pairs of dotenv readers this release reads .env.production
// with: one pair where its lock files were read, several where a patch release was not
// (then every pair listed must read a line alike before v6kit calls it clean). Rails
// loads the file through Dotenv::Environment (File.open "rb:bom|utf-8", then
// Dotenv::Parser), streaming through dotenv.config({ path }).
func (r Release) DotenvPairs() []DotenvPair {
	out := dotenvPins[0].pairs
	for _, p := range dotenvPins {
		if r.Version.AtLeast(p.from) {
			out = p.pairs
		}
	}
	return append([]DotenvPair(nil), out...)
}

// The facts below say what each reader version does with a line. Each holds from the
// version named; "not read" marks versions in between that no release pins.

// GemLineByLine reports whether the gem matches each line on its own (split at line
// breaks) with greedy quotes, so KEY='a' # 'b' reads "a' # 'b": 2.2.1 and 2.2.2 (also
// Debian's 2.4.0). From 2.5.0 it scans the whole file, and a quoted value may span lines.
func (p DotenvPair) GemLineByLine() bool { return p.Gem.Before(V(2, 5, 0)) }

// GemRefusesUnknownLines reports whether the gem raises Dotenv::FormatError, so Rails
// does not boot, on a line that is neither KEY=VALUE, a comment nor blank: 2.2.x.
func (p DotenvPair) GemRefusesUnknownLines() bool { return p.Gem.Before(V(2, 3, 0)) }

// GemQuoteAfterBlanks reports whether the gem's quoted-value patterns allow blanks before
// the opening quote (KEY= 'a#b' is the quoted "a#b"): from 2.7.5 (2.7.3, 2.7.4 not read).
// Before, 2.5.0–2.7.2 read KEY= 'a#b' as the unquoted "'a" and a comment.
func (p DotenvPair) GemQuoteAfterBlanks() bool { return p.Gem.AtLeast(V(2, 7, 5)) }

// GemUnescapesUnquoted reports whether the gem removes backslashes from unquoted values
// too (\\([^$]) → \1, so KEY=abc\def reads "abcdef"): from 2.8.1 (2.8.0 not read).
func (p DotenvPair) GemUnescapesUnquoted() bool { return p.Gem.AtLeast(V(2, 8, 1)) }

// GemLiteralNewlines reports whether the gem keeps \n and \r in double-quoted values as a
// backslash and a letter (unless DOTENV_LINEBREAK_MODE=legacy): from 3.0.0. Before, and
// in Node's dotenv, "a\nb" holds a newline.
func (p DotenvPair) GemLiteralNewlines() bool { return p.Gem.AtLeast(V(3, 0, 0)) }

// GemExportNeedsValue reports whether the gem reads `export KEY=` with an empty unquoted
// value as "export the variable KEY set before", raising Dotenv::FormatError (Rails does
// not boot) when the file did not set it, and reads a bare KEY line as KEY="": from 3.1.5.
func (p DotenvPair) GemExportNeedsValue() bool { return p.Gem.AtLeast(V(3, 1, 5)) }

// GemCommandsFirst reports whether the gem runs $(…) commands before it expands $VAR
// (and expands variables inside the command): from 3.2.0. Before, variables come first,
// so A='\' B=$A$(cmd) escapes the command, and A='$(cmd)' B=$A runs it.
func (p DotenvPair) GemCommandsFirst() bool { return p.Gem.AtLeast(V(3, 2, 0)) }

// GemFoldedNames is true for every gem version: the variable pattern
// /\$…([A-Z0-9_]+)/i is case-insensitive with Unicode case folding, so after '$' the
// letters ſ (U+017F) and K (U+212A, Kelvin) count as name characters (p$ſword reads "p").
func (p DotenvPair) GemFoldedNames() bool { return true }

// NodeLineByLine reports whether Node's dotenv matches each line on its own with
// /^\s*([\w.-]+)\s*=\s*(.*)?\s*$/: before 15 (4.0.0–10.0.0 read; 11–15 not read). Such a
// version has no inline comments (KEY=abc#123 reads "abc#123"), ignores `export KEY=…`
// and `KEY: value` lines, and keeps the quotes of a quoted value followed by blanks.
// From 16.0.0 it scans the whole file as the gem does: comments, export, KEY: value and
// quoted values spanning lines.
func (p DotenvPair) NodeLineByLine() bool { return p.Node.Before(V(15, 0, 0)) }

// NodeTrimsQuoted reports whether Node's dotenv strips one quote character at either end
// independently and then trims blanks (JavaScript's \s: also U+00A0, U+3000, U+FEFF…),
// inside quotes too: 4.0.0 and 6.2.0 (7.x not read). DB_PASS=" spaced " reads "spaced",
// KEY=abc' reads "abc".
func (p DotenvPair) NodeTrimsQuoted() bool { return p.Node.Before(V(7, 0, 0)) }

// DotenvStripsBOM is true for every pinned pair, loading the file as Mastodon does: the
// gem opens it with "rb:bom|utf-8", Node's \s swallows U+FEFF before the first key.
// (Dotenv::Parser.call(File.read(f)), as scripts call it, keeps the mark in the first key.)
func (p DotenvPair) DotenvStripsBOM() bool { return true }
