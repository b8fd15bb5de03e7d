#!/usr/bin/env node
// Entry point of the installed command: the compiled CLI lives in dist/ (`npm run build`).
import { main } from '../dist/cli/main.js';

// A reader that went away (`pxeforge history | head`) stops the command through main()'s
// AbortSignal (cli/signals.ts), with its cleanup; what is still written after that is dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
