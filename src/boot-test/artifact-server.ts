import { lstat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import send from 'send';

import type { Emit } from '../events/events.js';

export interface FetchRecord {
  path: string;
  range: string | undefined;
  status: number;
  at: string;
}

export interface ArtifactServer {
  /** Base URL as seen from the host (loopback). */
  url: string;
  port: number;
  fetched: FetchRecord[];
  close(): Promise<void>;
}

/** Longer request targets are refused (414): artifact paths are short. */
const maxTargetLength = 1024;

/**
 * Serves exactly the named files (URL path → file) on 127.0.0.1, with Range requests (send),
 * and records what the guest fetched. Nothing else is reachable through it.
 *
 * Rule: no request can end the process or reach another file. Every request is answered
 * (a 4xx for anything but GET or HEAD of a served name that is a regular file, never a
 * symlink) and logged; malformed HTTP is answered 400 by `clientError`; an exception in the
 * handler becomes a 500, never an uncaught exception.
 */
export async function serveArtifacts(files: Record<string, string>, emit: Emit, stage = 'serve', port = 0): Promise<ArtifactServer> {
  const fetched: FetchRecord[] = [];
  const log = (what: string, status: number) => emit({ type: status < 400 ? 'info' : 'warning', stage, message: `${what} → ${status}` });
  const server: Server = createServer((req, res) => {
    const target = parseTarget(req);
    res.on('finish', () => {
      const name = typeof target === 'string' ? target : printable(req.url ?? '');
      if (typeof target === 'string')
        fetched.push({ path: target, range: req.headers.range, status: res.statusCode, at: new Date().toISOString() });
      log(`${printable(req.method ?? '?')} ${name}${req.headers.range ? ` (${printable(req.headers.range)})` : ''}`, res.statusCode);
    });
    answer(req, res, target, files).catch(() => refuse(res, 500));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    log(`malformed request (${error.code ?? 'unknown error'})`, status);
    endSocket(socket, status);
  });
  // CONNECT and protocol upgrades get a socket of their own, never a tunnel.
  for (const event of ['connect', 'upgrade'] as const) {
    server.on(event, (req: IncomingMessage, socket: Socket) => {
      log(`${printable(req.method ?? '?')} ${printable(req.url ?? '')} (${event})`, 405);
      endSocket(socket, 405);
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    fetched,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The decoded path of an origin-form target, or the status that refuses the request. */
function parseTarget(req: IncomingMessage): string | number {
  const raw = req.url ?? '';
  if (raw.length > maxTargetLength) return 414;
  if (!raw.startsWith('/')) return 400;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.split('?')[0]!);
  } catch {
    return 400;
  }
  // Control characters (NUL included) and dot segments are never part of an artifact name.
  if (/[\x00-\x1f\x7f\\]/.test(decoded) || decoded.split('/').some((part) => part === '..' || part === '.')) return 400;
  return decoded;
}

async function answer(req: IncomingMessage, res: ServerResponse, target: string | number, files: Record<string, string>): Promise<void> {
  if (typeof target === 'number') return refuse(res, target);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return refuse(res, 405);
  }
  const file = Object.hasOwn(files, target) ? files[target] : undefined;
  // A served name must be a regular file itself: a symlink planted in its place is not followed.
  if (
    file === undefined ||
    !(await lstat(file).then(
      (info) => info.isFile(),
      () => false,
    ))
  )
    return refuse(res, 404);
  send(req, file, { dotfiles: 'allow', etag: true, lastModified: false })
    .on('error', (error: { status?: number }) => refuse(res, error.status ?? 500))
    .pipe(res);
}

function refuse(res: ServerResponse, status: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Connection', 'close');
  res.end();
}

const reasons: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large' };

function endSocket(socket: Socket, status: number): void {
  socket.on('error', () => socket.destroy());
  if (socket.writable)
    socket.end(`HTTP/1.1 ${status} ${reasons[status] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

/** At most 200 characters of what a client sent, control characters escaped, for a log line. */
function printable(text: string): string {
  const escaped = JSON.stringify(text.slice(0, 200)).slice(1, -1);
  return text.length > 200 ? `${escaped}…` : escaped;
}
