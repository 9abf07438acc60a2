/*
 * mountopt.h - the options a FUSE server gives mount(2), parsed and shown
 * as Linux's fuse does.
 */
#ifndef FUSEBOX_SANDBOX_MOUNTOPT_H
#define FUSEBOX_SANDBOX_MOUNTOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sbx_fuse_opts {
	int fd;			/* fd=N: the caller's /dev/fuse descriptor */
	mode_t rootmode;	/* rootmode=OCTAL: S_IFMT bits of the root */
	uid_t user_id;
	gid_t group_id;
	bool default_permissions, allow_other;
	unsigned max_read;	/* 0: not given */
	unsigned blksize;	/* 0: not given */
	bool is_blk;		/* type "fuseblk" */
	char subtype[64];	/* "" or from "fuse.X" / subtype=X */
	char source[256];	/* the mount source string ("" if NULL) */
};

/* fstype, source, data and flags are mount(2)'s. Returns 0 or the
 * negative errno Linux's mount(2) gives for them: -EINVAL for a missing
 * fd, rootmode, user_id or group_id, a bad value or an unknown option;
 * -ENODEV for a type that is not fuse, fuse.X, fuseblk or fuseblk.X. */
int sbx_fuse_opts_parse(const char *fstype, const char *source,
			const char *data, unsigned long flags,
			struct sbx_fuse_opts *out);
/* The options as /proc/PID/mountinfo shows them after "rw"/"ro" in its
 * super options: user_id=N,group_id=N[,default_permissions]
 * [,allow_other][,max_read=N][,blksize=N]. Returns the length written
 * or -ENOSPC. */
int sbx_fuse_opts_show(const struct sbx_fuse_opts *o, char *buf, size_t size);

#endif
