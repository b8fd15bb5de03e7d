/**
 * The programs pxeforge puts into images so that a node's own files (docs/node-files.md)
 * are in place before the real root's PID 1 starts. The archive a node loads beside its
 * image unpacks into `/.pxeforge-node`; these programs move its entries into the root.
 * They are plain POSIX sh: they run before anything else of the image, with the image's
 * own coreutils.
 */

/** The staging directory of a node's archive, at the top of the root it unpacks into. */
export const nodeStagingDir = '.pxeforge-node';

/** `apply-node-files <staging dir> <root>`: in every image pxeforge builds. */
export const applyNodeFilesProgram = '/usr/lib/pxeforge/apply-node-files';

/** /init of a whole-root initramfs image: applies the node's files, then execs /sbin/init. */
export const nodeInitProgram = '/usr/lib/pxeforge/init';

/** The dracut module of squashfs netboot initrds (named generically: later checks join it). */
export const dracutModuleDir = '/usr/lib/dracut/modules.d/90pxeforge';

/**
 * Moves a staged archive into place. Directories are made when missing, with the staged
 * owner and mode (existing ones are left alone); each file is copied with its owner and mode
 * beside its target and renamed over it, so a reader sees the old file or the new one; then
 * the directories listed in `explicit-dirs` get their owner and mode. The staging directory
 * is removed in every case (secrets must not linger there). Errors: `pxeforge: node files: …`
 * on stderr, exit 1.
 */
export const applyNodeFilesScript = `#!/bin/sh
# pxeforge: moves a node's staged files into place (docs/node-files.md).
# usage: apply-node-files <staging dir> <root>
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

fail() {
	printf 'pxeforge: node files: %s\\n' "$*" >&2
	exit 1
}

[ "$#" -eq 2 ] || fail "usage: apply-node-files <staging dir> <root>"
staging=$1
root=$2
[ -d "$staging" ] && [ ! -L "$staging" ] || fail "$staging is not a staging directory"
[ -d "$root" ] || fail "$root is not a directory"
# The staging directory holds secrets: it goes whatever happens below.
trap 'rm -rf -- "$staging"' EXIT
[ "$root" = / ] && root=

# Owner and mode of a staged entry onto a target (numeric ids: no account database is needed).
same_owner_mode() {
	owner=$(stat -c %u:%g -- "$1") && mode=$(stat -c %a -- "$1") &&
		chown -- "$owner" "$2" && chmod -- "$mode" "$2"
}

# Parents come before their children (find lists a directory before its entries).
if [ -d "$staging/root" ]; then
	find "$staging/root" -mindepth 1 | while IFS= read -r source; do
		node_path=\${source#"$staging/root"}
		target=$root$node_path
		if [ -d "$source" ] && [ ! -L "$source" ]; then
			# An existing directory (or the image's link to one) is left as it is.
			[ -d "$target" ] && continue
			if [ -e "$target" ] || [ -L "$target" ]; then fail "$node_path exists on the node and is not a directory"; fi
			mkdir -- "$target" && same_owner_mode "$source" "$target" || fail "$node_path: cannot make the directory"
		elif [ -f "$source" ] && [ ! -L "$source" ]; then
			if [ -d "$target" ] && [ ! -L "$target" ]; then fail "$node_path is a directory on the node"; fi
			rm -f -- "$target.pxeforge-new" &&
				cp -p -- "$source" "$target.pxeforge-new" &&
				mv -f -T -- "$target.pxeforge-new" "$target" || fail "$node_path: cannot put the file in place"
		else
			fail "$node_path is neither a file nor a directory in the archive"
		fi
	done || exit 1
fi

if [ -f "$staging/explicit-dirs" ]; then
	while IFS= read -r node_path; do
		[ -n "$node_path" ] || continue
		case "$node_path/" in
		/*/../* | /*/./* | *//* | /../* | /./*) fail "explicit-dirs: $node_path is not a normalized path" ;;
		/*) ;;
		*) fail "explicit-dirs: $node_path is not an absolute path" ;;
		esac
		[ -d "$staging/root$node_path" ] || fail "explicit-dirs: $node_path is not a directory of the archive"
		[ -d "$root$node_path" ] || fail "$node_path is not a directory on the node"
		same_owner_mode "$staging/root$node_path" "$root$node_path" || fail "$node_path: cannot set its owner and mode"
	done <"$staging/explicit-dirs"
fi
exit 0
`;

/**
 * /init of a whole-root initramfs: the kernel has unpacked the image and then the node's
 * archive into the same root. A failure is reported on the console and the node boots on,
 * without its files (its checks and services then say what is missing).
 */
export const nodeInitScript = `#!/bin/sh
# pxeforge: /init of a whole-root initramfs image (docs/node-files.md).
if [ -d /${nodeStagingDir} ]; then
	${applyNodeFilesProgram} /${nodeStagingDir} / ||
		echo "pxeforge: node files: not applied (exit $?); booting without them" >&2
fi
exec /sbin/init "$@"
`;

/**
 * dracut module: \`check\` 255 (only when the configuration asks for it), the pre-pivot hook
 * runs once the new root (the overlay over the squashfs) is mounted and writable.
 */
export const dracutModuleSetup = `#!/bin/bash
# pxeforge: what the netboot initrd does for pxeforge before it switches to the new root (docs/node-files.md).

check() {
	return 255
}

depends() {
	return 0
}

install() {
	inst_multiple cp rm chroot
	inst_hook pre-pivot 90 "$moddir/pxeforge-node-files.sh"
}
`;

/**
 * The pre-pivot hook: the kernel unpacked the node's archive into the initramfs; its staging
 * directory is copied into the new root and applied chrooted there, so the image's own links
 * resolve inside the new root. Hooks are sourced by dracut: no exit, failures are warnings.
 */
export const dracutNodeFilesHook = `#!/bin/sh
# pxeforge: the node's own files, into the new root before it starts (docs/node-files.md).
if [ -d /${nodeStagingDir} ]; then
	rm -rf -- "$NEWROOT/${nodeStagingDir}"
	if cp -a -- /${nodeStagingDir} "$NEWROOT/${nodeStagingDir}"; then
		chroot "$NEWROOT" ${applyNodeFilesProgram} /${nodeStagingDir} / ||
			warn "pxeforge: node files: not applied; booting without them"
	else
		warn "pxeforge: node files: cannot copy them into the new root; booting without them"
	fi
	rm -rf -- "$NEWROOT/${nodeStagingDir}" /${nodeStagingDir}
fi
`;

/** Programs every image gets (image path → script, written 0755). */
export const commonImagePrograms: Readonly<Record<string, string>> = { [applyNodeFilesProgram]: applyNodeFilesScript };
