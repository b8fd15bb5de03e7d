import { isIP } from 'node:net';

/** One node's archive and the address it boots from (undefined: pxeforge.yaml gives it no `ip`). */
export interface ArchiveAccess {
  host: string;
  /** Tree-relative: `pxeforge/nodes/<sha256>.cpio`. */
  archive: string;
  ip: string | undefined;
}

/**
 * nginx rules that serve each node archive only to its node's address: one exact `location`
 * per archive (`allow` for every node that loads it — identical files give one archive —
 * then `deny all`), and a default deny for the rest of the archive directory. `prefix` is the
 * URL path under which the web server serves the TFTP root (httpBaseUrl's path).
 * Nodes without an address are returned, to be named in a warning: nobody gets their archive.
 */
export function nginxAccessRules(
  nodes: readonly ArchiveAccess[],
  options: { generation: number; prefix: string },
): { text: string; withoutAddress: string[] } {
  const prefix = options.prefix.replace(/\/+$/, '');
  if (!/^(\/[A-Za-z0-9_.~-]+)*$/.test(prefix))
    throw new Error(`the URL path ${options.prefix} has characters an nginx location cannot carry`);
  const allowed = new Map<string, Set<string>>();
  const withoutAddress: string[] = [];
  for (const node of nodes) {
    if (!/^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/.test(node.archive)) throw new Error(`${node.archive} is not a node archive`);
    const ips = allowed.get(node.archive) ?? new Set<string>();
    allowed.set(node.archive, ips);
    const address = node.ip?.replace(/\/\d+$/, '');
    if (address === undefined || isIP(address) === 0) withoutAddress.push(node.host);
    else ips.add(address);
  }
  const lines = [
    `# pxeforge generation ${options.generation}: each node archive goes only to its node's address.`,
    '# Include it in the server block that serves the TFTP root over HTTP; render it again after each promote, refresh or rollback.',
  ];
  for (const [archive, ips] of [...allowed].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`location = ${prefix}/${archive} {`, ...[...ips].sort().map((ip) => `    allow ${ip};`), '    deny all;', '}');
  }
  lines.push(`location ^~ ${prefix}/pxeforge/nodes/ {`, '    deny all;', '}', '');
  return { text: lines.join('\n'), withoutAddress: withoutAddress.sort() };
}
