/**
 * Every command run inside an image root: `chroot <root> env -i <image environment> argv`.
 * Nothing of the build host's environment reaches the image (no TMPDIR or HOME that exist
 * only on the host, no credentials a CI runner keeps in variables): only a fixed PATH, HOME and
 * locale, plus what the caller names. The one place a chroot command line is made.
 */
export function chrootArgv(root: string, argv: readonly string[], env: Record<string, string> = {}): string[] {
  return [
    'chroot',
    root,
    'env',
    '-i',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME=/root',
    'LC_ALL=C.UTF-8',
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    ...argv,
  ];
}
