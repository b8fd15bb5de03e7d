#!/usr/bin/env node
// The test fleet's BMC: `power-cycle.mjs <monitor socket>` resets a QEMU node through its human
// monitor (`system_reset`: the machine restarts at once, as a BMC's power cycle does, whatever
// the running system is doing). A site's `rollout.reboot` template calls it with `{bmc}`, the
// node's `bmc` variable, the way it calls `ipmitool … chassis power cycle` at a real site.
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [socketPath, ...rest] = process.argv.slice(2);
if (socketPath === undefined || socketPath === '' || rest.length > 0) {
  process.stderr.write('usage: power-cycle.mjs <QEMU monitor socket>\n');
  process.exit(2);
}

/** Sends one monitor command and resolves once QEMU has closed the connection after it. */
function send(command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath, () => socket.end(`${command}\n`));
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

// The monitor takes one client at a time: a busy one refuses, so try again for a few seconds.
const deadline = Date.now() + 10_000;
for (;;) {
  try {
    await send('system_reset');
    process.stdout.write(`power cycled ${socketPath}\n`);
    break;
  } catch (error) {
    if (Date.now() > deadline) {
      process.stderr.write(`power-cycle: ${socketPath}: ${error.message}\n`);
      process.exit(1);
    }
    await sleep(200);
  }
}
