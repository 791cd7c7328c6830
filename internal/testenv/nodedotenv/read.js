// Reads dotenv files the way Mastodon's streaming server does (dotenv.parse of the file's
// UTF-8 text, as dotenv.config does), with one or more pinned versions of Node's dotenv.
//   node read.js --file FILE DIR        prints what DIR's dotenv reads from FILE, as JSON
//   node read.js DIR...                 reads one JSON string (a file's text) per line from
//                                       stdin and answers each with one line: a JSON array
//                                       of what each DIR's dotenv reads, in order
// DIR is a directory holding node_modules/dotenv (one per version, each with its lockfile).
'use strict'
const fs = require('fs')
const path = require('path')
const load = (dir) => require(path.resolve(dir, 'node_modules', 'dotenv'))
const args = process.argv.slice(2)
if (args[0] === '--file') {
  const dotenv = load(args[2])
  process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(args[1], { encoding: 'utf8' }))))
} else {
  const readers = args.map(load)
  const rl = require('readline').createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (line) => {
    const src = JSON.parse(line)
    process.stdout.write(JSON.stringify(readers.map((d) => d.parse(src))) + '\n')
  })
}
