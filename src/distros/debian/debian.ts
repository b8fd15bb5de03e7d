import path from 'node:path';

import { UserError } from '../../errors/user-error.js';
import { ToolError } from '../../exec/tool-error.js';
import type { DistroBackend } from '../backend.js';
import { aptSources, readHostAptSources, sourcesListText, type AptSource } from './apt-sources.js';
import { aptCleanArgv, aptInstallArgv, aptUpdateArgv, mmdebstrapArgv } from './argv.js';
import { configureLocale, configureTimezone } from './configure.js';
import { readDpkgStatus } from './dpkg-status.js';

/** Debian: mmdebstrap builds the base root, apt installs into it, dpkg's status file says what is installed. */
export const debian: DistroBackend<AptSource[]> = {
  name: 'debian',
  title: 'Debian',
  releases: ['bookworm', 'trixie'],
  variants: { names: ['minbase', 'required', 'important', 'standard'], default: 'minbase', description: 'mmdebstrap variant' },
  /** Debian package name, optionally `:arch` and `=version` (Debian Policy 5.6.1, 5.6.12). */
  packageName: {
    pattern: /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/,
    description: 'a Debian package name (`name`, `name:arch` or `name=version`)',
  },
  kernelHint: 'kernel.package must be a Debian kernel image package, e.g. linux-image-amd64 (linux-image-arm64 for arm64)',
  hostTools: [
    {
      name: 'mmdebstrap',
      check: { program: 'mmdebstrap' },
      package: 'mmdebstrap',
      neededFor: 'build',
      purpose: 'bootstrap the Debian image root',
    },
  ],

  async packageSources(base, siteMirror) {
    const hostSources = siteMirror === 'host' ? await readHostAptSources() : [];
    return aptSources(base.mirror ?? siteMirror, base.release, hostSources);
  },

  bootstrap({ base, sources, target, work, sourceDateEpoch }) {
    const sourcesList = path.join(work, 'sources.list');
    return {
      files: [{ path: sourcesList, text: sourcesListText(sources) }],
      step: {
        argv: mmdebstrapArgv({ release: base.release, arch: base.arch, variant: base.variant, target, sourcesList }),
        // mmdebstrap's own temporary root (and its mounts) stays inside the work tree, which the
        // build always unmounts and removes, even if mmdebstrap is killed before its cleanup.
        env: { SOURCE_DATE_EPOCH: String(sourceDateEpoch), TMPDIR: work },
      },
    };
  },

  installPackages(root, packages, sourceDateEpoch) {
    return [
      { argv: aptUpdateArgv(root, sourceDateEpoch) },
      { argv: aptInstallArgv(root, packages, sourceDateEpoch), explain: explainAptFailure },
      { argv: aptCleanArgv(root) },
    ];
  },

  installedPackages: readDpkgStatus,

  pinnedInstall(packages, arch) {
    return packages.map((p) => (p.arch === arch || p.arch === 'all' ? `${p.name}=${p.version}` : `${p.name}:${p.arch}=${p.version}`));
  },

  hygiene: {
    remove: [
      { dir: 'var/lib/apt/lists', match: /^(?!lock$|partial$|auxfiles$).+/ },
      { dir: 'var/cache/apt', match: /\.bin$/ },
      { dir: 'var/cache/apt/archives', match: /\.deb$/ },
      { dir: 'var/log', match: /^(dpkg\.log|alternatives\.log|bootstrap\.log|apt)$/ },
    ],
    lists: { dir: 'var/lib/apt/lists', match: /(Packages|_InRelease)$/, label: 'apt lists' },
  },

  configureLocale,
  configureTimezone,
};

/** apt's own `E:` lines say what went wrong (an unknown package, a conflict) in one line each. */
function explainAptFailure(error: unknown): never {
  if (error instanceof ToolError) {
    const reasons = error.tail.filter((line) => line.startsWith('E: '));
    if (reasons.length > 0) {
      throw new UserError('PACKAGE_INSTALL_FAILED', `apt-get could not install the packages: ${reasons.join(' ')}`, {
        hint: 'check packages.include, the package sets and the mirror in pxeforge.yaml',
        cause: error,
      });
    }
  }
  throw error;
}
