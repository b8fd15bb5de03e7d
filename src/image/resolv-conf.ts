import { removeImagePath, replaceWithSymlink, statImagePath, writeImageFile } from '../rootfs/image-files.js';

/** What the image's /etc/resolv.conf is after hygiene; recorded in the manifest. */
export type ResolvConfOutcome = 'dhcp' | 'systemd-resolved' | 'overlay';

/** Where systemd-resolved lives (usr-merged or not); looked up inside the image. */
const resolvedBinaries = ['/usr/lib/systemd/systemd-resolved', '/lib/systemd/systemd-resolved'];

const stubLink = '../run/systemd/resolve/stub-resolv.conf';

export const dhcpResolvConf = `# pxeforge: this image carries no DNS settings of the host that built it.
# The node's DHCP client fills this file at boot (Debian's dhclient-script
# replaces it with the nameservers its DHCP server sends).
`;

/**
 * The rule for /etc/resolv.conf: a node gets DNS from the network it boots on, never the
 * build host's. An image with systemd-resolved gets the link to resolved's stub file (what
 * its Debian package installs); any other image gets a file holding only a comment, which
 * dhclient-script (ifupdown, dracut network-legacy) replaces at boot. Whatever was there,
 * file or link, is replaced, never written through. A resolv.conf supplied by one of the
 * recipe's overlays is the site's choice and stays (`keep`).
 */
export async function resetResolvConf(root: string, mode: 'reset' | 'keep'): Promise<ResolvConfOutcome> {
  if (mode === 'keep') return 'overlay';
  await removeImagePath(root, '/etc/resolv.conf');
  for (const binary of resolvedBinaries) {
    if ((await statImagePath(root, binary)) !== undefined) {
      await replaceWithSymlink(root, '/etc/resolv.conf', stubLink);
      return 'systemd-resolved';
    }
  }
  await writeImageFile(root, '/etc/resolv.conf', dhcpResolvConf);
  return 'dhcp';
}
