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

/** The real dmsquash-live-root of dracut, under the name the root check hands over to. */
export const dracutLiveRootProgram = '/sbin/pxeforge-dmsquash-live-root';

/** The root check's file in the dracut module, installed in the initrd as /sbin/dmsquash-live-root. */
export const dracutVerifyRootFile = 'pxeforge-verify-root.sh';

/**
 * dracut module: \`check\` 255 (only when the configuration asks for it), the pre-pivot hook
 * runs once the new root (the overlay over the squashfs) is mounted and writable. livenet
 * fetches the root image, then execs /sbin/dmsquash-live-root with the file; the module puts
 * its root check in that place (modules install in the order of their names, so dmsquash-live
 * has installed the real one by then) and the check hands over to the real one.
 */
export const dracutModuleSetup = `#!/bin/bash
# pxeforge: what the netboot initrd does for pxeforge: it checks the fetched root image before it is
# mounted (docs/fleet.md), and puts the node's own files into the new root before it switches (docs/node-files.md).

check() {
	return 255
}

depends() {
	return 0
}

install() {
	inst_multiple cp rm chroot sha256sum sleep
	inst_hook pre-pivot 90 "$moddir/pxeforge-node-files.sh"
	if [ -e "$initdir/sbin/dmsquash-live-root" ]; then
		mv -f -- "$initdir/sbin/dmsquash-live-root" "$initdir${dracutLiveRootProgram}"
		inst_script "$moddir/${dracutVerifyRootFile}" /sbin/dmsquash-live-root
	fi
}
`;

/** Where the netboot initrd and the boot record keep what they know of this boot (/run survives the switch to the new root). */
export const pxeforgeRunDir = '/run/pxeforge';

/** Written by the netboot initrd when it checked the fetched root (one line: the digest). */
export const rootVerifiedFile = `${pxeforgeRunDir}/root-verified`;

/** How many times a root image whose digest differs is fetched again before the node refuses it. */
export const rootRefetches = 3;

/** The first words of the one console line a node prints when it refuses its root image. */
export const rootMismatchLine = 'pxeforge: root image digest mismatch:';

/**
 * /sbin/dmsquash-live-root in the netboot initrd: checks the fetched root image against
 * `pxeforge.root_sha256` before anything mounts it. A digest that differs is fetched again
 * (a download that was cut or changed on the way) up to `rootRefetches` times, `SLEEP` seconds
 * apart as livenet waits between its fetches; then the node prints one console line naming the
 * URL, the expected and the actual digest and stops (dracut's `die`: no mount, no switch).
 * On success it writes `root-verified` and hands the file to dracut's dmsquash-live-root.
 * Without the parameter (a config pxeforge did not render) nothing is checked.
 */
export const dracutVerifyRootScript = `#!/bin/sh
# pxeforge: checks the fetched root image against pxeforge.root_sha256 before it is mounted (docs/fleet.md).
# usage (as livenet runs it): dmsquash-live-root <downloaded image>
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
type fetch_url >/dev/null 2>&1 || . /lib/url-lib.sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin

live_root=\${PXEFORGE_LIVE_ROOT:-${dracutLiveRootProgram}}
run_dir=\${PXEFORGE_RUN_DIR:-${pxeforgeRunDir}}
console=\${PXEFORGE_CONSOLE:-/dev/console}
refetches=\${PXEFORGE_ROOT_REFETCHES:-${rootRefetches}}
pause=\${SLEEP:-5}

# Seconds between two readings of /proc/uptime (two decimals; no leading zero reaches $((…)), which would read octal).
centiseconds() {
	whole=\${1%.*}
	part=\${1#*.}
	part=\${part#0}
	echo $((whole * 100 + part))
}
hundredths() {
	elapsed=$(($(centiseconds "$2") - $(centiseconds "$1")))
	printf '%d.%02d' $((elapsed / 100)) $((elapsed % 100))
}

image=$1
expected=$(getarg pxeforge.root_sha256=)
if [ -n "$expected" ]; then
	url=$(getarg root=)
	url=\${url#live:}
	case "$expected" in
	*[!0-9a-f]*) die "pxeforge: pxeforge.root_sha256 is not a sha256 digest; refusing the root image" ;;
	esac
	[ "\${#expected}" -eq 64 ] || die "pxeforge: pxeforge.root_sha256 is not a sha256 digest; refusing the root image"
	attempt=0
	read -r started _ </proc/uptime
	while :; do
		actual=$(sha256sum <"$image" 2>/dev/null)
		actual=\${actual%% *}
		[ "$actual" = "$expected" ] && break
		[ -n "$actual" ] || actual=unreadable
		if [ "$attempt" -ge "$refetches" ]; then
			echo "${rootMismatchLine} $url: expected sha256 $expected, got $actual (fetched $((attempt + 1)) times); not booting it" >"$console"
			die "pxeforge: the root image does not match pxeforge.root_sha256"
			exit 1
		fi
		attempt=$((attempt + 1))
		warn "pxeforge: root image $url has sha256 $actual, not $expected; fetching it again ($attempt of $refetches)"
		sleep "$pause"
		fetch_url "$url" "$image" || warn "pxeforge: fetching $url again failed"
	done
	mkdir -p -- "$run_dir" && echo "$expected" >"$run_dir/root-verified.new" && mv -f -- "$run_dir/root-verified.new" "$run_dir/root-verified"
	read -r ended _ </proc/uptime
	info "pxeforge: root image $url verified (sha256 $expected, in $(hundredths "$started" "$ended") s)"
fi
exec "$live_root" "$@"
`;

/** The program in every image pxeforge builds that writes the boot record at boot (docs/fleet.md). */
export const bootRecordProgram = '/usr/lib/pxeforge/boot-record';

/** The systemd unit that runs it once per boot. */
export const bootRecordUnit = 'pxeforge-boot-record.service';

/** The boot record a node writes: what it booted. */
export const bootRecordFile = `${pxeforgeRunDir}/boot.json`;

/**
 * `boot-record [--proc DIR] [--run DIR]`: writes `<run>/boot.json` (default /run/pxeforge) from
 * the `pxeforge.*` kernel parameters in `<proc>/cmdline` (default /proc), the netboot initrd's
 * `root-verified`, the kernel release, the boot time and the boot id. A value outside the
 * allowed characters is written as null: nothing from the command line reaches the JSON
 * unchecked. Written to a temporary file and renamed, mode 0644.
 */
export const bootRecordScript = `#!/bin/sh
# pxeforge: writes what this node booted to /run/pxeforge/boot.json (docs/fleet.md).
# usage: boot-record [--proc DIR] [--run DIR]
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022
proc=/proc
run=${pxeforgeRunDir}
while [ "$#" -gt 0 ]; do
	case "$1" in
	--proc) proc=$2; shift 2 ;;
	--run) run=$2; shift 2 ;;
	*) echo "usage: boot-record [--proc DIR] [--run DIR]" >&2; exit 2 ;;
	esac
done

# A JSON string of a value of names, versions and digests, or null.
text() {
	case "$1" in
	'' | *[!A-Za-z0-9._@+-]*) printf null ;;
	*) [ "\${#1}" -le 128 ] && printf '"%s"' "$1" || printf null ;;
	esac
}
digest() {
	case "$1" in
	*[!0-9a-f]*) printf null ;;
	*) [ "\${#1}" -eq 64 ] && printf '"%s"' "$1" || printf null ;;
	esac
}
number() {
	case "$1" in
	'' | *[!0-9]* | 0?*) printf null ;;
	*) [ "\${#1}" -le 15 ] && printf '%s' "$1" || printf null ;;
	esac
}

image='' version='' generation='' group='' channel='' root_sha256='' nodefiles=''
cmdline=''
[ -r "$proc/cmdline" ] && read -r cmdline <"$proc/cmdline"
set -f
for word in $cmdline; do
	case "$word" in
	pxeforge.image=*) image=\${word#*=} ;;
	pxeforge.version=*) version=\${word#*=} ;;
	pxeforge.generation=*) generation=\${word#*=} ;;
	pxeforge.group=*) group=\${word#*=} ;;
	pxeforge.channel=*) channel=\${word#*=} ;;
	pxeforge.root_sha256=*) root_sha256=\${word#*=} ;;
	pxeforge.nodefiles=*) nodefiles=\${word#*=} ;;
	esac
done
set +f

# true: the initrd checked the root against the digest; false: a digest was given but not checked;
# null: no digest (the root is not fetched by the node).
verified=null
if [ -n "$root_sha256" ]; then
	verified=false
	checked=''
	[ -f "$run/root-verified" ] && read -r checked <"$run/root-verified"
	[ "$(digest "$root_sha256")" != null ] && [ "$checked" = "$root_sha256" ] && verified=true
fi
if [ "$(digest "$nodefiles")" = null ]; then node_files=null; else node_files='{ "sha256": '"$(digest "$nodefiles")"' }'; fi

kernel=''
[ -r "$proc/sys/kernel/osrelease" ] && read -r kernel <"$proc/sys/kernel/osrelease"
boot_id=''
[ -r "$proc/sys/kernel/random/boot_id" ] && read -r boot_id <"$proc/sys/kernel/random/boot_id"
case "$boot_id" in *[!0-9a-f-]*) boot_id='' ;; esac
btime=''
while read -r key value; do
	[ "$key" = btime ] && btime=$value && break
done <"$proc/stat"
case "$btime" in '' | *[!0-9]*) btime=0 ;; esac
booted_at=$(date -u -d "@$btime" +%Y-%m-%dT%H:%M:%SZ)

kernel_json=$(text "$kernel")
[ "$kernel_json" = null ] && kernel_json='""'

mkdir -p -- "$run"
temporary="$run/.boot.json.$$"
{
	printf '{\\n'
	printf '  "schemaVersion": 1,\\n'
	printf '  "image": %s,\\n' "$(text "$image")"
	printf '  "version": %s,\\n' "$(text "$version")"
	printf '  "generation": %s,\\n' "$(number "$generation")"
	printf '  "group": %s,\\n' "$(text "$group")"
	printf '  "channel": %s,\\n' "$(text "$channel")"
	printf '  "root": { "sha256": %s, "verified": %s },\\n' "$(digest "$root_sha256")" "$verified"
	printf '  "nodeFiles": %s,\\n' "$node_files"
	printf '  "kernel": %s,\\n' "$kernel_json"
	printf '  "bootedAt": "%s",\\n' "$booted_at"
	printf '  "bootId": "%s"\\n' "$boot_id"
	printf '}\\n'
} >"$temporary" && chmod 0644 "$temporary" && mv -f -- "$temporary" "$run/boot.json" || {
	rm -f -- "$temporary"
	echo "pxeforge: boot record: cannot write $run/boot.json" >&2
	exit 1
}
`;

/** The unit that writes the boot record early in every boot, before sshd answers. */
export const bootRecordUnitFile = `[Unit]
Description=pxeforge boot record (${pxeforgeRunDir}/boot.json)
DefaultDependencies=no
After=local-fs.target
Before=ssh.service sshd.service multi-user.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${bootRecordProgram}

[Install]
WantedBy=multi-user.target
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
export const commonImagePrograms: Readonly<Record<string, string>> = {
  [applyNodeFilesProgram]: applyNodeFilesScript,
  [bootRecordProgram]: bootRecordScript,
};

/** Files every image gets (image path → content, written 0644). */
export const commonImageFiles: Readonly<Record<string, string>> = { [`/usr/lib/systemd/system/${bootRecordUnit}`]: bootRecordUnitFile };

/** Units every image gets enabled. */
export const commonImageUnits: readonly string[] = [bootRecordUnit];
