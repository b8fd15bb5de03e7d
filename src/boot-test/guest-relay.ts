import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What QEMU runs for each TCP connection the guest opens to the artifact server's guest
 * address (`guestfwd=…-cmd:`): the connection is the program's stdin/stdout (and stderr, so
 * it never prints), and it relays the bytes to the artifact server on the host's loopback.
 * Plain CommonJS so that any Node runs it, from the sources or the compiled CLI alike.
 */
const relayScript = `'use strict';
const net = require('node:net');
const guest = new net.Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true });
const host = net.connect({ host: '127.0.0.1', port: Number(process.argv[2]), allowHalfOpen: true });
const stop = () => { guest.destroy(); host.destroy(); };
guest.on('error', stop);
host.on('error', stop);
guest.pipe(host);
host.pipe(guest);
`;

/** Writes the relay into `dir`; returns the command line QEMU runs, to which the port is added. */
export async function writeGuestRelay(dir: string): Promise<string[]> {
  const file = path.join(dir, 'guest-relay.cjs');
  await writeFile(file, relayScript, { mode: 0o600 });
  return [process.execPath, '--no-warnings', file];
}
