#!/usr/bin/env node
// Entry point of the installed command: the compiled CLI lives in dist/ (`npm run build`).
import { main } from '../dist/cli/main.js';

// A reader that went away (`pxeforge history | head`) ends the command quietly, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
