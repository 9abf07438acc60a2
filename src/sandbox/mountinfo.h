/*
 * mountinfo.h - the /proc/PID/mountinfo and /proc/PID/mounts text a
 * sandboxed process reads: the host's text as the kernel gave it, then one
 * line per fusebox mount in the kernel's format (fs/proc_namespace.c).
 */
#ifndef FUSEBOX_SANDBOX_MOUNTINFO_H
#define FUSEBOX_SANDBOX_MOUNTINFO_H

#include <stddef.h>

struct sbx_mount_desc {
	int mnt_id;		/* fusebox picks ids above every host id */
	unsigned major, minor;	/* the mount's st_dev */
	const char *mountpoint;	/* absolute, canonical, unescaped */
	const char *source;	/* mount source ("" or NULL: "none") */
	const char *fstype;	/* "fuse", "fuse.SUBTYPE", "fuseblk"... */
	/* The mount's flags as mount(2) got them: MS_RDONLY, MS_NOSUID,
	 * MS_NODEV, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME,
	 * MS_NOSYMFOLLOW (others are ignored). */
	unsigned long flags;
	/* The superblock's: sbx_fuse_opts.sb_flags (MS_RDONLY,
	 * MS_SYNCHRONOUS, MS_DIRSYNC, MS_LAZYTIME). */
	unsigned long sb_flags;
	const char *super_opts;	/* from sbx_fuse_opts_show ("" or NULL:
				 * none) */
};

/*
 * host: the host's text of /proc/PID/mountinfo as read; mounts: fusebox's
 * mounts in the order they were made. Returns a malloc'd string
 * (NUL-terminated, *len set): host, then a line per mount. A mount's
 * parent is the mount its mount point lies in: the longest mount point
 * that is the path or a directory above it, among the host's lines and
 * the fusebox mounts made before it; the last of equals, as a later mount
 * on the same path covers an earlier one.
 * NULL with errno (EINVAL for a relative mount point or no fstype, ENOMEM)
 * on failure.
 */
char *sbx_mountinfo_render(const char *host, size_t host_len,
			   const struct sbx_mount_desc *mounts, size_t n,
			   size_t *len);
/* The same for /proc/PID/mounts ("SOURCE MOUNTPOINT FSTYPE OPTS 0 0"). */
char *sbx_mounts_render(const char *host, size_t host_len,
			const struct sbx_mount_desc *mounts, size_t n,
			size_t *len);
/* The highest mount id in mountinfo text (0 if none). */
int sbx_mountinfo_max_id(const char *host, size_t host_len);

#endif
