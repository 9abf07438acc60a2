/*
 * ioctl.c - ioctl(2) on an open file of a mount, as Linux serves it for a
 * FUSE file: the commands its VFS answers without asking the server
 * (do_vfs_ioctl and file_ioctl in fs/ioctl.c), and every other one as a
 * restricted FUSE_IOCTL (fs/fuse/ioctl.c, fuse_do_ioctl).
 *
 * Callers move the argument: vfs_ioctl_sizes() says how many bytes the
 * command reads from it and writes back, vfs_ioctl() works on copies.
 * Nothing here holds a lock across the request.
 */
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vfs/vfs.h"

#define PAGE_SZ 4096u
/* FUSE mounts have no block device: Linux gives them the page size. */
#define FUSE_BLOCK_SIZE 4096

#ifndef FIOQSIZE
#define FIOQSIZE 0x5460
#endif

/* Whether Linux's VFS answers cmd on this kind of file itself. */
static bool answered_locally(const struct vfs_file *f, unsigned cmd)
{
	bool reg = S_ISREG(f->inode->type);

	switch (cmd) {
	case FIONREAD:
	case FIBMAP:
		return reg; /* other types: the file's own ioctl */
	case FIOQSIZE:
	case FIGETBSZ:
	case FIONBIO:
	case FIOASYNC:
	case FIFREEZE:
	case FITHAW:
	case FS_IOC_FIEMAP:
	case FICLONE:
	case FICLONERANGE:
	case FIDEDUPERANGE:
		return true;
	default:
		return false;
	}
}

void vfs_ioctl_sizes(const struct vfs_file *f, unsigned cmd, size_t *in,
		     size_t *out)
{
	size_t size = _IOC_SIZE(cmd);

	*in = *out = 0;
	if (answered_locally(f, cmd)) {
		switch (cmd) {
		case FIONREAD:
		case FIGETBSZ:
			*out = sizeof(int);
			break;
		case FIOQSIZE:
			*out = sizeof(int64_t);
			break;
		case FIONBIO:
		case FIOASYNC:
			*in = sizeof(int);
			break;
		case FIBMAP:
			*in = *out = sizeof(int);
			break;
		}
		return;
	}
	/* These two encode a long but move an int (fuse_do_ioctl). */
	if (cmd == FS_IOC_GETFLAGS || cmd == FS_IOC_SETFLAGS)
		size = sizeof(int);
	if (_IOC_DIR(cmd) & _IOC_WRITE)
		*in = size;
	if (_IOC_DIR(cmd) & _IOC_READ)
		*out = size;
}

static void put_int(void *out, int v)
{
	memcpy(out, &v, sizeof(v));
}

static int get_int(const void *in)
{
	int v;

	memcpy(&v, in, sizeof(v));
	return v;
}

/* do_vfs_ioctl's own commands, for a FUSE mount (no block device, no
 * fiemap, no freeze, no clone or dedupe). */
static long local_ioctl(struct vfs_file *f, const struct fuse_caller *who,
			unsigned cmd, const void *in, void *out,
			size_t *out_len)
{
	struct stat st;
	int err, flags;

	switch (cmd) {
	case FIONREAD:
		/* Linux's i_size - f_pos, negative past the end. */
		err = vfs_getattr(f->m, who, f->inode, f, false, &st);
		if (err)
			return err;
		put_int(out, (int)(st.st_size -
				   __atomic_load_n(&f->pos, __ATOMIC_RELAXED)));
		*out_len = sizeof(int);
		return 0;
	case FIOQSIZE: {
		int64_t bytes;

		if (!S_ISREG(f->inode->type) && !S_ISDIR(f->inode->type) &&
		    !S_ISLNK(f->inode->type))
			return -ENOTTY;
		pthread_mutex_lock(&f->m->lock);
		bytes = (int64_t)f->inode->attr.blocks * 512;
		pthread_mutex_unlock(&f->m->lock);
		memcpy(out, &bytes, sizeof(bytes));
		*out_len = sizeof(bytes);
		return 0;
	}
	case FIGETBSZ:
		put_int(out, FUSE_BLOCK_SIZE);
		*out_len = sizeof(int);
		return 0;
	case FIONBIO:
		flags = __atomic_load_n(&f->flags, __ATOMIC_RELAXED);
		flags = get_int(in) ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
		__atomic_store_n(&f->flags, flags, __ATOMIC_RELAXED);
		return 0;
	case FIOASYNC:
		/* FUSE files have no fasync: only "no change" succeeds. */
		flags = __atomic_load_n(&f->flags, __ATOMIC_RELAXED);
		return !get_int(in) == !(flags & O_ASYNC) ? 0 : -ENOTTY;
	case FIBMAP:
		/* CAP_SYS_RAWIO; then block 0, as fuse_bmap without a
		 * block device answers. */
		if (fuse_caller_ids(who)->uid != 0)
			return -EPERM;
		if (get_int(in) < 0)
			return -EINVAL;
		put_int(out, 0);
		*out_len = sizeof(int);
		return 0;
	case FIFREEZE:
	case FITHAW:
		return fuse_caller_ids(who)->uid != 0 ? -EPERM : -EOPNOTSUPP;
	default: /* FIEMAP, FICLONE, FICLONERANGE, FIDEDUPERANGE */
		return -EOPNOTSUPP;
	}
}

long vfs_ioctl(struct vfs_file *f, const struct fuse_caller *who,
	       unsigned cmd, uint64_t arg, const void *in, size_t in_size,
	       void *out, size_t out_size, size_t *out_len)
{
	struct fuse_conn *c = f->m->conn;
	struct fuse_ioctl_args a = { .fh = f->fh, .cmd = cmd, .arg = arg,
				     .in = in, .in_size = (uint32_t)in_size,
				     .out = out,
				     .out_size = (uint32_t)out_size };
	size_t biggest = in_size > out_size ? in_size : out_size;
	long r;
	int err;

	*out_len = 0;
	if (f->flags & O_PATH)
		return -EBADF;
	if (answered_locally(f, cmd))
		return local_ioctl(f, who, cmd, in, out, out_len);
	if (!S_ISREG(f->inode->type) && !S_ISDIR(f->inode->type))
		return -ENOTTY;
	err = fuse_conn_wait_init(c);
	if (err)
		return err;
	if (S_ISDIR(f->inode->type)) {
		/* fuse_dir_ioctl: directories from protocol 7.18. */
		if (c->lim.minor < 18)
			return -ENOTTY;
		a.flags |= FUSE_IOCTL_DIR;
	}
	if (sizeof(long) == 4)
		a.flags |= FUSE_IOCTL_32BIT; /* as a 32-bit Linux says */
	/* Linux sizes the request in pages, at least one for the answer,
	 * and refuses what max_pages cannot hold. */
	if (biggest < PAGE_SZ)
		biggest = PAGE_SZ;
	if ((biggest + PAGE_SZ - 1) / PAGE_SZ > c->lim.max_pages)
		return -ENOMEM;
	r = fuse_op_ioctl(c, who, f->inode->nodeid, &a);
	*out_len = a.out_len;
	return r;
}
