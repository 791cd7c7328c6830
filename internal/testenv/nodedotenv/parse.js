// Reads a dotenv file the way Mastodon's streaming server does (dotenv.parse) and prints
// the result as JSON. Used by v6kit's envfile tests as the Node-side oracle.
const fs = require('fs');
const dotenv = require('dotenv');
process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[2]))));
