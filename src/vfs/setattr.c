/*
 * setattr.c - SETATTR for chmod, chown, truncate and utimensat, shaped
 * as Linux's FUSE client shapes it (which FATTR_* bits, when the time is
 * "now", when the open file's handle goes along), and the attributes the
 * server answers installed with their timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs.h"

#define MAX_LFS_FILESIZE INT64_MAX

int vfs_setattr(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, struct vfs_file *f,
		struct fuse_setattr_in *in)
{
	struct fuse_attr_out ao;
	int err;

	if (m->read_only)
		return -EROFS;
	/* Dirty data first, as Linux's setattr with writeback caching: a
	 * later WRITE must not undo a truncation, move the times set here
	 * or find the set-user-ID bit still on. */
	vfs_wb_settle(ino, who);
	if (f && f->has_fh && S_ISREG(ino->type)) {
		in->valid |= FATTR_FH;
		in->fh = f->fh;
	}
	if (f && (in->valid & FATTR_SIZE)) {
		in->valid |= FATTR_LOCKOWNER;
		in->lock_owner = m->lock_owner;
	}
	err = fuse_op_setattr(m->conn, who, ino->nodeid, in, &ao);
	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	if ((ao.attr.mode & S_IFMT) != ino->type) {
		/* As Linux: a node that changed type is bad. */
		ino->attr_expiry = 0;
		pthread_mutex_unlock(&m->lock);
		fuse_log_bad(m->conn, "SETATTR of node %llu changed its type",
			     (unsigned long long)ino->nodeid);
		return -EIO;
	}
	/* Our own change: the cache is cut to the new size, and not
	 * dropped for the size or mtime it gave (Linux's setattr keeps its
	 * pages the same way). */
	if (S_ISREG(ino->type)) {
		if (ao.attr.size < ino->attr.size)
			vfs_pc_truncate(ino, ao.attr.size);
		ino->attr.size = ao.attr.size;
		ino->attr.mtime = ao.attr.mtime;
		ino->attr.mtimensec = ao.attr.mtimensec;
	}
	vfs_attr_set(ino, &ao.attr, ao.attr_valid, ao.attr_valid_nsec,
		     vfs_now());
	pthread_mutex_unlock(&m->lock);
	if (S_ISREG(ino->type) && (in->valid & FATTR_SIZE))
		vfs_map_truncate(ino, ao.attr.size);
	{
		/* Linux's fsnotify_change: both times is a utime call. */
		uint32_t v = in->valid, ev = 0;

		if (v & (FATTR_MODE | FATTR_UID | FATTR_GID))
			ev |= IN_ATTRIB;
		if (v & FATTR_SIZE)
			ev |= IN_MODIFY;
		if ((v & (FATTR_ATIME | FATTR_MTIME)) ==
		    (FATTR_ATIME | FATTR_MTIME))
			ev |= IN_ATTRIB;
		else if (v & FATTR_ATIME)
			ev |= IN_ACCESS;
		else if (v & FATTR_MTIME)
			ev |= IN_MODIFY;
		if (ev && f)
			vfs_fsnotify_file(f, ev, false);
		else if (ev)
			vfs_fsnotify(m, ino, ev);
	}
	return 0;
}

int vfs_chmod(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *ino, mode_t mode)
{
	struct fuse_setattr_in in = { .valid = FATTR_MODE };

	int err;

	in.mode = (mode & 07777) | ino->type;
	if (m->read_only)
		return -EROFS;
	err = vfs_may_setattr(m, who, ino, &in);
	return err ? err : vfs_setattr(m, who, ino, NULL, &in);
}

/* The mode Linux's should_remove_suid leaves: set-user-ID goes, and
 * set-group-ID when group execute is on (else it is mandatory locking's
 * mark). Whether anything changes. */
static bool privs_killed(mode_t mode, mode_t *out)
{
	*out = mode & ~S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		*out &= ~S_ISGID;
	return *out != mode;
}

int vfs_kill_privs(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *ino, struct vfs_file *f,
		   struct fuse_setattr_in *in)
{
	struct stat st;
	mode_t mode;
	int err;

	if (fuse_caller_ids(who)->uid == 0 || !S_ISREG(ino->type)) /* CAP_FSETID */
		return 0;
	/* The mode held, even if our own writes made the size and times
	 * stale (Linux keeps the mode valid across them too). */
	pthread_mutex_lock(&m->lock);
	mode = ino->attr.mode;
	pthread_mutex_unlock(&m->lock);
	if (!privs_killed(mode, &mode))
		return 0;
	/* As fuse_setattr without HANDLE_KILLPRIV: from fresh attributes,
	 * with no permission check (the kernel's own change). */
	err = vfs_getattr(m, who, ino, f, true, &st);
	if (err || !privs_killed(st.st_mode, &mode))
		return err;
	if (in) {
		in->valid |= FATTR_MODE;
		in->mode = mode;
		return 0;
	}
	{
		struct fuse_setattr_in kill = { .valid = FATTR_MODE,
						.mode = mode };

		return vfs_setattr(m, who, ino, f, &kill);
	}
}

int vfs_chown(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *ino, uid_t uid, gid_t gid)
{
	struct fuse_setattr_in in = { 0 };
	struct stat st;
	int err;

	if (uid != (uid_t)-1) {
		in.valid |= FATTR_UID;
		in.uid = uid;
	}
	if (gid != (gid_t)-1) {
		in.valid |= FATTR_GID;
		in.gid = gid;
	}
	if (m->read_only)
		return -EROFS;
	if (!S_ISDIR(ino->type)) {
		/* Linux kills set-user-ID (and set-group-ID with group
		 * execute) on chown of a non-directory; without
		 * HANDLE_KILLPRIV it does so itself in the same SETATTR,
		 * from fresh attributes, before setattr_prepare checks
		 * the change (and drops set-group-ID if the caller is not
		 * in the new group). */
		err = vfs_getattr(m, who, ino, NULL, true, &st);
		if (err)
			return err;
		if ((st.st_mode & S_ISUID) ||
		    (st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) {
			in.valid |= FATTR_MODE;
			in.mode = st.st_mode & ~S_ISUID;
			if ((st.st_mode & (S_ISGID | S_IXGRP)) ==
			    (S_ISGID | S_IXGRP))
				in.mode &= ~S_ISGID;
		}
	}
	err = vfs_may_setattr(m, who, ino, &in);
	if (err)
		return err;
	return vfs_setattr(m, who, ino, NULL, &in);
}

int vfs_truncate(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, struct vfs_file *f, off_t len)
{
	struct fuse_setattr_in in = { .valid = FATTR_SIZE };

	if (len < 0)
		return -EINVAL;
	/* ftruncate: the descriptor must be open for writing. */
	if (f && ((f->flags & O_PATH) || (f->flags & O_ACCMODE) == O_RDONLY ||
		  S_ISDIR(ino->type)))
		return -EINVAL;
	if (S_ISDIR(ino->type))
		return -EISDIR;
	if (!S_ISREG(ino->type))
		return -EINVAL;
	if (!f) {
		int err;

		if (m->read_only)
			return -EROFS;
		err = vfs_permission(m, who, ino, W_OK);
		if (err)
			return err;
	}
	/* No FATTR_MTIME: Linux's truncate and ftruncate leave the times
	 * to the server. */
	in.size = (uint64_t)len;
	{
		int err = vfs_kill_privs(m, who, ino, f, &in);

		if (err)
			return err;
	}
	return vfs_setattr(m, who, ino, f, &in);
}

static bool time_ok(const struct timespec *t)
{
	return t->tv_nsec == UTIME_NOW || t->tv_nsec == UTIME_OMIT ||
	       (t->tv_nsec >= 0 && t->tv_nsec < 1000000000);
}

static int utimens_send(struct vfs_mount *m, const struct fuse_caller *who,
			struct vfs_inode *ino, struct fuse_setattr_in *in)
{
	int err;

	if (m->read_only)
		return -EROFS;
	err = vfs_may_setattr(m, who, ino, in);
	return err ? err : vfs_setattr(m, who, ino, NULL, in);
}

int vfs_utimens(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, const struct timespec *times)
{
	struct fuse_setattr_in in = { 0 };

	if (!times) {
		in.valid = FATTR_ATIME | FATTR_ATIME_NOW | FATTR_MTIME |
			   FATTR_MTIME_NOW;
		return utimens_send(m, who, ino, &in);
	}
	if (!time_ok(&times[0]) || !time_ok(&times[1]))
		return -EINVAL;
	if (times[0].tv_nsec == UTIME_OMIT && times[1].tv_nsec == UTIME_OMIT)
		return 0;
	if (times[0].tv_nsec == UTIME_NOW && times[1].tv_nsec == UTIME_NOW)
		return vfs_utimens(m, who, ino, NULL);
	if (times[0].tv_nsec != UTIME_OMIT) {
		in.valid |= FATTR_ATIME;
		if (times[0].tv_nsec == UTIME_NOW) {
			in.valid |= FATTR_ATIME_NOW;
		} else {
			in.atime = (uint64_t)times[0].tv_sec;
			in.atimensec = (uint32_t)times[0].tv_nsec;
		}
	}
	if (times[1].tv_nsec != UTIME_OMIT) {
		in.valid |= FATTR_MTIME;
		if (times[1].tv_nsec == UTIME_NOW) {
			in.valid |= FATTR_MTIME_NOW;
		} else {
			in.mtime = (uint64_t)times[1].tv_sec;
			in.mtimensec = (uint32_t)times[1].tv_nsec;
		}
	}
	return utimens_send(m, who, ino, &in);
}

int vfs_utimens_early(const struct timespec *times)
{
	if (!times)
		return 0;
	if (!time_ok(&times[0]) || !time_ok(&times[1]))
		return -EINVAL;
	return times[0].tv_nsec == UTIME_OMIT && times[1].tv_nsec == UTIME_OMIT;
}
