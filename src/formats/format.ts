import type { HostTool } from '../exec/host-tool.js';
import type { Emit } from '../events/events.js';

/** Placeholder in a kernel command line for the URL of a root fetched over HTTP, filled when a test or promotion knows it. */
export const rootfsUrlPlaceholder = '{rootfs_url}';

export type CompressionAlgorithm = 'zstd' | 'xz' | 'gzip' | 'lz4';

/** What packing needs to know of a recipe (narrow, so that formats stay below the recipe). */
export interface PackOptions {
  /** The finished image root. */
  root: string;
  /** The file to write (`<staged version>/<format.packed>`). */
  output: string;
  compression: { algorithm: CompressionAlgorithm; level: number | undefined };
  acceptCapabilityLoss: boolean;
  /** SOURCE_DATE_EPOCH: every timestamp in the packed root. */
  epoch: number;
  tools: { emit: Emit; signal: AbortSignal };
}

/** A boot-test check over SSH inside the booted node (the shape of a recipe check). */
export interface RootCheck {
  name: string;
  run: string;
  expect?: string;
  match?: string;
}

/**
 * An output format: how an image root is packed, and what booting it needs. Adding one is
 * a new file beside squashfs.ts and initramfs.ts and one line in registry.ts.
 */
export interface OutputFormat {
  name: string;
  /** What packing this format needs on the build host (doctor checks them). */
  hostTools: readonly HostTool[];
  /** The files a version of this format has beside vmlinuz, in manifest order. */
  artifacts: readonly string[];
  /** The artifact `pack` writes. */
  packed: string;
  /** The initrd is a netboot initramfs built by dracut inside the image (the `kernel` stage), not the packed root. */
  netbootInitrd: boolean;
  /** Files written into the image while it is configured (image path → content). */
  imageFiles: Readonly<Record<string, string>>;
  /** Programs written into the image while it is configured, mode 0755 (image path → script), beside those every image gets (node-programs.ts). */
  imagePrograms: Readonly<Record<string, string>>;
  /** Whether the packed root keeps file capabilities (xattrs); if not, losing them must be accepted. */
  keepsCapabilities: boolean;
  /** Packs the image root into `options.output`. */
  pack(options: PackOptions): Promise<void>;
  /** Kernel parameters the format adds before the recipe's (may hold `rootfsUrlPlaceholder`). */
  kernelParameters: readonly string[];
  /** The artifact nodes fetch over HTTP, whose URL fills `rootfsUrlPlaceholder`; undefined when the root travels in the initrd. */
  rootUrlArtifact: string | undefined;
  /** Whether serving a version needs the site's `httpBaseUrl`. */
  needsHttp: boolean;
  /** The built-in boot-test check that the root is what this format mounts. */
  rootCheck: RootCheck;
  /** Console lines that mean a boot of this format cannot succeed: pattern and reason. */
  consoleFatalMarkers: readonly (readonly [RegExp, string])[];
}
