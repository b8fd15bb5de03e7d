import type { SiteNode } from './node-table.js';

/** A host name dnsmasq takes for a node (a DNS name: letters, digits, `-` and `.`). */
const dnsName = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * dnsmasq's `dhcp-host` lines for the nodes of the `nodes` table: a node with an IPv4 `ip` gets
 * that address (without its prefix length) and its host name; one without gets its name only
 * (its address comes from the `dhcp-range`). The file deploy/servers/dnsmasq-pxeforge-dhcp.conf
 * includes. Every value was checked by the site loader (MAC pattern, address); a host name
 * that is not a DNS name is left out with a comment.
 */
export function dnsmasqHostLines(nodes: readonly Pick<SiteNode, 'host' | 'mac' | 'ip'>[], header: string): string {
  const lines = [
    `# ${header}`,
    '# One dhcp-host=<mac>,<ip>,<host> per node of pxeforge.yaml (deploy/servers/dnsmasq-pxeforge-dhcp.conf includes it).',
  ];
  for (const node of nodes) {
    if (!dnsName.test(node.host)) {
      lines.push(`# ${node.mac}: left out, its name is not a DNS name`);
      continue;
    }
    const address = node.ip?.split('/')[0];
    if (address === undefined) lines.push(`dhcp-host=${node.mac},${node.host}`);
    else if (address.includes(':'))
      lines.push(`# ${node.host}: its ip ${address} is IPv6 (DHCPv4 only here): name only`, `dhcp-host=${node.mac},${node.host}`);
    else lines.push(`dhcp-host=${node.mac},${address},${node.host}`);
  }
  return `${lines.join('\n')}\n`;
}
