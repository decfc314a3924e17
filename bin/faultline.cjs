#!/usr/bin/env node
'use strict';
// Runs the compiled CLI when `npm run build` has produced dist/, otherwise the TypeScript
// sources through tsx, so a fresh clone works after `npm ci` with no build step.
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'agent', 'cli.js');
if (fs.existsSync(compiled) && !process.env.FAULTLINE_FROM_SOURCE) {
  require(compiled).main(process.argv);
} else {
  require('tsx/cjs');
  require('../agent/cli.ts').main(process.argv);
}
