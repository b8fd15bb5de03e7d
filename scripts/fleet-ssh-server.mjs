// An SSH server on loopback that answers as many nodes: one listening port on 0.0.0.0; a
// connection to 127.x.y.z is the node with that address (the server tells them apart by the
// socket's local address). Each node presents its own host key, accepts only the fleet's key,
// and answers `cat /run/pxeforge/boot.json` as configured. It counts the sessions open at once.
//
// In-process: `startFleetServer(options)`. As a process (benchmarks, so that client and server
// use both cores): `node fleet-ssh-server.mjs <config.json>` prints `{"port": n}` on stdout and
// runs until stdin closes; config.json is `{ authorizedKey, nodes: [{ address, hostKeyFile,
// answer }] }`.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import ssh2 from 'ssh2';

const { Server, utils } = ssh2;

/**
 * @typedef {{ text: string } | 'missing' | 'hang' | 'hang-handshake' | 'close'} Answer
 *   text: the file's content; missing: `cat` fails; hang: the command never answers;
 *   hang-handshake: no SSH banner ever; close: the connection is closed at once.
 * @typedef {{ stdout?: string, stderr?: string, exit: number } | 'hang'} CommandAnswer
 *   what any other command answers (health checks); `run` returning undefined: the default answer.
 * @typedef {{ hostKey: string | Buffer, answer: Answer, run?: (command: string) => CommandAnswer | undefined }} FixtureNode
 * @param {{ authorizedKey: string, nodes: Map<string, FixtureNode> | ((address: string) => FixtureNode | undefined), port?: number }} options
 */
export async function startFleetServer(options) {
  const authorized = utils.parseKey(options.authorizedKey);
  if (authorized instanceof Error) throw authorized;
  const lookup = typeof options.nodes === 'function' ? options.nodes : (address) => options.nodes.get(address);
  const stats = { open: 0, maxOpen: 0, connections: 0, commands: [], seen: new Set(), authentications: [] };
  const sockets = new Set();
  const net = createServer((socket) => {
    sockets.add(socket);
    stats.connections += 1;
    stats.open += 1;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      stats.open -= 1;
    };
    socket.on('close', () => {
      sockets.delete(socket);
      release();
    });
    socket.on('error', () => {});
    const address = (socket.localAddress ?? '').replace(/^::ffff:/, '');
    stats.seen.add(address);
    const node = lookup(address);
    if (node === undefined || node.answer === 'close') return socket.destroy();
    if (node.answer === 'hang-handshake') return;
    const server = new Server({ hostKeys: [node.hostKey] }, (client) => {
      client.on('error', () => {});
      client.on('authentication', (context) => {
        stats.authentications.push(address);
        const ok =
          context.method === 'publickey' &&
          context.key.algo === authorized.type &&
          context.key.data.equals(authorized.getPublicSSH()) &&
          (context.signature === undefined || authorized.verify(context.blob, context.signature, context.hashAlgo) === true);
        if (ok) context.accept();
        else context.reject(['publickey']);
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acceptExec, _reject, info) => {
            const channel = acceptExec();
            stats.commands.push(`${address} ${info.command}`);
            if (node.answer === 'hang') return;
            const ran = info.command === 'cat /run/pxeforge/boot.json' ? undefined : node.run?.(info.command);
            if (ran === 'hang') return;
            if (ran !== undefined) {
              if (ran.stdout !== undefined) channel.write(ran.stdout);
              if (ran.stderr !== undefined) channel.stderr.write(ran.stderr);
              release();
              channel.exit(ran.exit);
              return channel.close();
            }
            if (info.command !== 'cat /run/pxeforge/boot.json' || node.answer === 'missing') {
              channel.stderr.write('cat: /run/pxeforge/boot.json: No such file or directory\n');
              release();
              channel.exit(1);
              return channel.close();
            }
            channel.write(node.answer.text);
            // The answer is complete: the session is over as far as the count goes.
            release();
            channel.exit(0);
            channel.close();
          });
        });
      });
    });
    server.injectSocket(socket);
  });
  await new Promise((resolve, reject) => {
    net.once('error', reject);
    net.listen(options.port ?? 0, '0.0.0.0', resolve);
  });
  return {
    port: net.address().port,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        net.close(() => resolve());
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = JSON.parse(await readFile(process.argv[2], 'utf8'));
  const nodes = new Map();
  for (const node of config.nodes) nodes.set(node.address, { hostKeyFile: node.hostKeyFile, answer: node.answer });
  const server = await startFleetServer({
    authorizedKey: config.authorizedKey,
    nodes: (address) => {
      const node = nodes.get(address);
      // Each node's key is read when it is connected to: nothing is kept per node after that.
      return node === undefined ? undefined : { hostKey: readFileSync(node.hostKeyFile), answer: node.answer };
    },
  });
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    process.stderr.write(`${JSON.stringify({ maxOpen: server.stats.maxOpen, connections: server.stats.connections })}\n`);
    await server.close();
    process.exit(0);
  });
}
