/*
 * mountinfo.h - the /proc/PID/mountinfo and /proc/PID/mounts a sandboxed
 * process reads: the host's lines, then one line per fusebox mount.
 */
#ifndef FUSEBOX_SANDBOX_MOUNTINFO_H
#define FUSEBOX_SANDBOX_MOUNTINFO_H

#include <stddef.h>

struct sbx_mount_desc {
	int mnt_id;		/* above every host id */
	unsigned major, minor;	/* the mount's st_dev */
	const char *mountpoint;	/* absolute, canonical */
	const char *source;	/* mount source ("" if none) */
	const char *fstype;	/* "fuse" or "fuse.SUBTYPE" */
	unsigned long flags;	/* MS_* */
	const char *super_opts;	/* from sbx_fuse_opts_show */
};

/* Malloc'd text (NUL-terminated, *len set), or NULL with errno. */
char *sbx_mountinfo_render(const char *host, size_t host_len,
			   const struct sbx_mount_desc *mounts, size_t n,
			   size_t *len);
char *sbx_mounts_render(const char *host, size_t host_len,
			const struct sbx_mount_desc *mounts, size_t n,
			size_t *len);
/* The highest mount id in mountinfo text (0 if none). */
int sbx_mountinfo_max_id(const char *host, size_t host_len);

#endif
