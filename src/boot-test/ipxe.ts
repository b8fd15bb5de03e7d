/** An iPXE script that loads a kernel and initrd over HTTP and boots them. */
export function ipxeScript(options: { kernel: string; initrd: string; cmdline: string }): string {
  return [
    '#!ipxe',
    'echo pxeforge: loading kernel and initrd',
    `kernel ${options.kernel} initrd=initrd.img ${options.cmdline}`.trimEnd(),
    `initrd --name initrd.img ${options.initrd}`,
    'boot',
    '',
  ].join('\n');
}
