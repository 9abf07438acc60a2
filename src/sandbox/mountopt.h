/*
 * mountopt.h - the arguments a FUSE server gives mount(2), checked as
 * Linux checks them, and fuse's part of the super options printed back as
 * /proc/PID/mountinfo prints it. Pure functions: no descriptor, path or
 * permission is looked at here (see "Left to the caller" below).
 */
#ifndef FUSEBOX_SANDBOX_MOUNTOPT_H
#define FUSEBOX_SANDBOX_MOUNTOPT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sbx_fuse_opts {
	int fd;			/* fd=N: the caller's /dev/fuse descriptor */
	mode_t rootmode;	/* rootmode=OCTAL as given: the S_IFMT bits
				 * are the root's type (and the permission
				 * bits its mode until the first GETATTR) */
	uid_t user_id;
	gid_t group_id;
	bool default_permissions, allow_other;
	unsigned max_read;	/* 0: not given; else as Linux keeps it:
				 * at least 4096, ~0u meaning no limit */
	unsigned blksize;	/* 0: not given (fuseblk only) */
	bool is_blk;		/* type "fuseblk" */
	/* The superblock's MS_RDONLY, MS_SYNCHRONOUS, MS_DIRSYNC and
	 * MS_LAZYTIME: mount(2)'s flags as changed by the "ro", "rw",
	 * "sync", "async", "dirsync", "lazytime", "nolazytime" words of the
	 * data. They can differ from the mount's own flags ("ro" in the
	 * data makes the superblock read-only, not the mount). */
	unsigned long sb_flags;
	/* Linux takes both from mount(2) strings of up to PATH_MAX - 1 or
	 * from the data page, so they get that room. */
	char subtype[PATH_MAX];	/* "" or from "fuse.X" / subtype=X */
	char source[PATH_MAX];	/* the mount source ("" if none) */
};

/*
 * fstype, source, flags and data are mount(2)'s. source is NULL when
 * mount(2) got NULL: "" is an empty string, which Linux refuses. data is
 * read up to the kernel's one page less one byte (the rest is ignored, as
 * Linux truncates it).
 *
 * Returns 0 or the negative errno Linux's mount(2) gives for the same
 * arguments: -EINVAL for a missing fd/rootmode/user_id/group_id, a bad
 * value, an unknown option, blksize without fuseblk, a repeated source or
 * subtype, MS_NOUSER or MS_MANDLOCK ...; -ENODEV for a type that is not
 * fuse, fuse.X, fuseblk or fuseblk.X; -ENOMEM if the data cannot be
 * copied.
 *
 * Left to the caller, who has the process and its descriptors, in this
 * order of Linux's checks:
 *  - a new mount only: MS_REMOUNT, MS_BIND, MS_MOVE and the propagation
 *    flags make mount(2) do something else before the type is looked at;
 *  - fuseblk: source must name a block device (ENOENT, ENOTBLK, ...),
 *    checked by Linux after the option syntax but before the missing
 *    options below, so a fuseblk caller wanting that order looks first;
 *  - fd must be open (Linux 6.18 says EINVAL; later kernels EBADF) and be
 *    /dev/fuse (EINVAL). An fd whose connection is already mounted makes
 *    Linux mount that same connection again without needing rootmode,
 *    user_id or group_id: parse cannot know, and says EINVAL;
 *  - ENOTDIR when S_ISDIR(rootmode) differs from the mount point's type.
 *
 * user_id and group_id are taken as ids of the caller's user namespace
 * with the identity map: only (uid_t)-1 is refused.
 */
int sbx_fuse_opts_parse(const char *fstype, const char *source,
			const char *data, unsigned long flags,
			struct sbx_fuse_opts *out);

/*
 * fuse's part of the super options field of /proc/PID/mountinfo (and the
 * tail of the options of /proc/PID/mounts), as Linux's fuse_show_options
 * prints it, without the leading comma:
 * "user_id=0,group_id=0[,default_permissions][,allow_other][,max_read=N]
 * [,blksize=N]". Writes into buf (NUL-terminated); returns the length or
 * -ENOSPC.
 */
int sbx_fuse_opts_show(const struct sbx_fuse_opts *o, char *buf,
		       size_t size);

#endif
