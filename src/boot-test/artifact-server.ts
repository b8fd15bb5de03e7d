import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/**
 * Serves exactly the named files (URL path → file) on 127.0.0.1, with Range requests (send),
 * and records what the guest fetched. Nothing else is reachable through it.
 */
export async function serveArtifacts(files: Record<string, string>, emit: Emit, stage = 'serve', port = 0): Promise<ArtifactServer> {
  const fetched: FetchRecord[] = [];
  const server: Server = createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = files[urlPath];
    const record = () => {
      fetched.push({ path: urlPath, range: req.headers.range, status: res.statusCode, at: new Date().toISOString() });
      emit({ type: 'info', stage, message: `GET ${urlPath}${req.headers.range ? ` (${req.headers.range})` : ''} → ${res.statusCode}` });
    };
    res.on('finish', record);
    if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    send(req, file, { dotfiles: 'allow', etag: true, lastModified: false })
      .on('error', (error: { status?: number }) => {
        res.statusCode = error.status ?? 500;
        res.end();
      })
      .pipe(res);
  });
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
