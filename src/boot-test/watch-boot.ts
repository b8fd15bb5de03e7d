import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import type { TestContext, Tools } from './test-context.js';
import { readConsole, readNew } from './console-watch.js';
import { connectSsh } from './ssh.js';

/**
 * Reads the console while the VM runs (through the checks too, so phases reached after SSH
 * answered are still timed). Markers are matched on each new piece plus a little of the
 * previous one, so none is lost at a boundary.
 */
function watchConsole(context: TestContext, vmStarted: number): { stop(): Promise<void> } {
  let offset = 0;
  let overlap = '';
  let running = true;
  const step = async () => {
    const fresh = await readNew(context.consoleFile, offset);
    offset = fresh.offset;
    const scan = overlap + fresh.text;
    overlap = scan.slice(-512);
    context.console = readConsole(scan, Date.now() - vmStarted, context.console);
  };
  const loop = (async () => {
    while (running) {
      await step();
      await sleep(250);
    }
    await step();
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Tries SSH until it answers, the console shows a fatal line, QEMU exits, or time runs out. */
export async function watchBoot(context: TestContext, sshPort: number, deadline: number, tools: Tools): Promise<string> {
  const vmStarted = Date.now();
  context.consoleWatch = watchConsole(context, vmStarted);
  let exited = false;
  void context.vm!.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    tools.signal.throwIfAborted();
    if (context.console.fatal !== undefined) return `${context.console.fatal.reason}: ${context.console.fatal.line}`;
    if (exited) {
      const { tail } = await context.vm!.exited;
      return tail.some((line) => /host forwarding rule|Could not set up host forwarding/.test(line))
        ? 'port taken'
        : `QEMU exited: ${tail.at(-1) ?? 'no message'}`;
    }
    if (context.console.phases['root mounted'] !== undefined || Date.now() - vmStarted > 20_000) {
      const session = await connectSsh({
        port: sshPort,
        privateKey: context.key.private,
        deadline: Date.now() + 1500,
        signal: tools.signal,
      });
      if (session !== undefined) {
        context.ssh = session;
        context.console.phases['ssh up'] = Date.now() - vmStarted;
        return 'ssh';
      }
    }
    await sleep(500, undefined, { signal: tools.signal });
  }
  return `no SSH after ${context.manifest.recipe.tests.boot.timeout} s`;
}

/** A loopback port nobody listens on now (QEMU may still lose a race; boot retries). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
