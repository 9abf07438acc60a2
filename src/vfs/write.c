/*
 * write.c - WRITE split into requests of at most min(max_write,
 * max_pages pages), O_APPEND, FSYNC, FALLOCATE and COPY_FILE_RANGE.
 *
 * Without writeback caching every write goes to the server before the
 * call returns, and what it returns is what the server took, so no byte
 * is reported written that the server did not receive. After a write the
 * size we hold grows to cover it (as Linux's fuse_write_update_attr) and
 * the rest of the attributes (mtime, ctime, blocks) are the server's.
 * With it (writeback.c), a write to a file without FOPEN_DIRECT_IO lands
 * in the page cache, and what needs the server to have the data (FSYNC,
 * FALLOCATE, COPY_FILE_RANGE, direct I/O) writes it back first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs.h"

#define PAGE_SZ 4096u
#define MAX_RW_COUNT (0x7ffff000u)
#define COPY_CHUNK (1u << 20)

uint32_t vfs_write_chunk(struct fuse_conn *c)
{
	uint32_t by_pages = c->lim.max_pages * PAGE_SZ;

	return c->lim.max_write < by_pages ? c->lim.max_write : by_pages;
}

uint64_t vfs_data_reached(struct vfs_mount *m, struct vfs_inode *ino,
			  uint64_t end)
{
	uint64_t size;

	pthread_mutex_lock(&m->lock);
	if (end > ino->attr.size)
		ino->attr.size = end;
	ino->attr_expiry = 0;
	size = ino->attr.size;
	pthread_mutex_unlock(&m->lock);
	return size;
}

static int writable(const struct vfs_file *f)
{
	if ((f->flags & O_PATH) || (f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (S_ISDIR(f->inode->type))
		return -EISDIR;
	return 0;
}

ssize_t vfs_write_through(struct vfs_file *f, const struct fuse_caller *who,
			  const char *buf, size_t count, uint64_t off,
			  uint32_t write_flags)
{
	uint32_t chunk = vfs_write_chunk(f->m->conn);
	size_t done = 0;

	while (done < count) {
		uint32_t want = count - done < chunk ? (uint32_t)(count - done)
						     : chunk;
		ssize_t n = fuse_op_write(f->m->conn, who, f->inode->nodeid,
					  f->fh, off + done, buf + done, want,
					  f->flags, 0, write_flags);

		if (n < 0) {
			if (!done)
				return n;
			break;
		}
		done += (size_t)n;
		if ((uint32_t)n < want)
			break; /* the server took less: stop, as Linux */
	}
	if (done) {
		uint64_t size = vfs_data_reached(f->m, f->inode, off + done);

		/* The server has the bytes, the cache takes them too.
		 * Direct I/O bypasses it, so what it held of the range is
		 * stale. */
		if (f->open_flags & FOPEN_DIRECT_IO)
			vfs_pc_invalidate(f->inode, off, off + done);
		else
			vfs_pc_write(f->inode, off, buf, done, size);
	}
	return (ssize_t)done;
}

static ssize_t write_at(struct vfs_file *f, const struct fuse_caller *who,
			const char *buf, size_t count, uint64_t off)
{
	uint32_t write_flags = 0;
	int err;

	if (off > (uint64_t)INT64_MAX || count > (uint64_t)INT64_MAX - off)
		return -EFBIG;
	/* Linux's file_remove_privs: a write by a caller without
	 * CAP_FSETID clears set-user-ID and set-group-ID; for direct I/O it
	 * asks the server in the WRITE itself. */
	if (f->open_flags & FOPEN_DIRECT_IO) {
		if (fuse_caller_ids(who)->uid != 0)
			write_flags |= FUSE_WRITE_KILL_SUIDGID;
	} else {
		err = vfs_kill_privs(f->m, who, f->inode, f, NULL);
		if (err)
			return err;
	}
	if (vfs_wb_on(f))
		return vfs_wb_write(f, who, buf, count, off);
	/* Direct I/O beside cached writes: those reach the server first,
	 * or they would land on top of this later. */
	vfs_wb_settle(f->inode, who);
	return vfs_write_through(f, who, buf, count, off, write_flags);
}

ssize_t vfs_write_stores(struct vfs_file *f, const struct fuse_caller *who,
			 const void *buf, size_t count, uint64_t off)
{
	return write_at(f, who, buf, count, off);
}

ssize_t vfs_pwrite(struct vfs_file *f, const struct fuse_caller *who,
		   const void *buf, size_t count, off_t off)
{
	int err;

	/* Linux's pwrite64: the offset, then whether the file has
	 * positions (a FIFO has none), then its access mode. */
	if (off < 0)
		return -EINVAL;
	if (f->native_fd >= 0 && !(f->flags & O_PATH))
		return -ESPIPE;
	err = writable(f);
	if (err)
		return err;
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	if (!count)
		return 0;
	/* pwrite(2) on an O_APPEND file appends, as on Linux. */
	if (f->flags & O_APPEND) {
		struct stat st;

		err = vfs_getattr(f->m, who, f->inode, f, false, &st);
		if (err)
			return err;
		off = st.st_size;
	}
	{
		ssize_t n = write_at(f, who, buf, count, (uint64_t)off);

		if (n > 0) {
			vfs_map_apply(f->inode, buf, (size_t)n, (uint64_t)off);
			vfs_fsnotify_file(f, IN_MODIFY, true);
		}
		return n;
	}
}

ssize_t vfs_write(struct vfs_file *f, const struct fuse_caller *who,
		  const void *buf, size_t count)
{
	bool stream = f->open_flags & (FOPEN_NONSEEKABLE | FOPEN_STREAM);
	ssize_t n;
	off_t off;
	int err = writable(f);

	if (err)
		return err;
	if (f->native_fd >= 0) {
		n = write(f->native_fd, buf, count);
		if (n > 0)
			vfs_fsnotify_pipe(f, IN_MODIFY);
		return n < 0 ? -errno : n;
	}
	if (!count)
		return 0;
	pthread_mutex_lock(&f->pos_lock);
	off = stream ? 0 : f->pos;
	if (f->flags & O_APPEND) {
		struct stat st;

		err = vfs_getattr(f->m, who, f->inode, f, false, &st);
		if (err) {
			pthread_mutex_unlock(&f->pos_lock);
			return err;
		}
		off = st.st_size;
	}
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	n = write_at(f, who, buf, count, (uint64_t)off);
	if (n > 0)
		vfs_map_apply(f->inode, buf, (size_t)n, (uint64_t)off);
	if (n > 0 && !stream)
		f->pos = off + n;
	else if (n >= 0 && !stream && (f->flags & O_APPEND))
		f->pos = off;
	pthread_mutex_unlock(&f->pos_lock);
	if (n > 0)
		vfs_fsnotify_file(f, IN_MODIFY, true);
	return n;
}

int vfs_fsync(struct vfs_file *f, const struct fuse_caller *who,
	      bool datasync)
{
	int err;

	if (f->flags & O_PATH)
		return -EBADF;
	if (f->native_fd >= 0)
		return -EINVAL; /* a pipe cannot be synced */
	if (S_ISREG(f->inode->type)) {
		/* Stores through mappings reach the cache first. */
		err = vfs_map_sync_inode(f->inode, who, 0, UINT64_MAX);
		if (err)
			return err;
	}
	/* As Linux's fuse_fsync: the dirty data first, and a writeback
	 * error met since the last fsync or close ends it here. */
	err = vfs_wb_sync(f->inode, f, who);
	if (err)
		return err;
	if (!f->has_fh && !S_ISDIR(f->inode->type))
		return 0;
	return fuse_op_fsync(f->m->conn, who, f->inode->nodeid,
			     S_ISDIR(f->inode->type), f->fh, datasync);
}

int vfs_fallocate(struct vfs_file *f, const struct fuse_caller *who,
		  int mode, off_t off, off_t len)
{
	int err;

	if (f->flags & O_PATH)
		return -EBADF; /* Linux's fdget refuses it first */
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (S_ISDIR(f->inode->type))
		return -EISDIR;
	if (S_ISFIFO(f->inode->type))
		return -ESPIPE;
	if (!S_ISREG(f->inode->type))
		return -ENODEV;
	if (off > INT64_MAX - len)
		return -EFBIG;
	/* The modes Linux's FUSE client passes on. */
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	/* A punched or zeroed range must not get cached writes back on top
	 * of it later (Linux writes back the punched range first); an
	 * allocation leaves them be. */
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		vfs_wb_settle(f->inode, who);
	err = fuse_op_fallocate(f->m->conn, who, f->inode->nodeid, f->fh,
				mode, (uint64_t)off, (uint64_t)len);
	if (err)
		return err;
	/* Punched or zeroed on the server: those bytes are zeros now. */
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		vfs_pc_invalidate(f->inode, (uint64_t)off,
				  (uint64_t)off + (uint64_t)len);
		vfs_map_zero(f->inode, (uint64_t)off,
			     (uint64_t)off + (uint64_t)len);
	}
	if (mode & FALLOC_FL_KEEP_SIZE)
		vfs_attr_expire(f->m, f->inode);
	else
		vfs_map_truncate(f->inode,
				 vfs_data_reached(f->m, f->inode,
						  (uint64_t)off + (uint64_t)len));
	vfs_fsnotify_file(f, IN_MODIFY, true); /* as Linux's vfs_fallocate */
	return 0;
}

/* Without COPY_FILE_RANGE: read and write through a bounce buffer, as
 * Linux's splice fallback does for a filesystem without the op. */
static ssize_t copy_by_hand(struct vfs_file *in, off_t off_in,
			    struct vfs_file *out, off_t off_out, size_t len,
			    const struct fuse_caller *who)
{
	size_t bsz = len < COPY_CHUNK ? len : COPY_CHUNK;
	char *buf = malloc(bsz);
	size_t done = 0;

	if (!buf)
		return -ENOMEM;
	while (done < len) {
		size_t want = len - done < bsz ? len - done : bsz;
		ssize_t r = vfs_pread_quiet(in, who, buf, want,
					    off_in + done);
		ssize_t w;

		if (r <= 0) {
			if (r < 0 && !done) {
				free(buf);
				return r;
			}
			break;
		}
		w = write_at(out, who, buf, (size_t)r,
			     (uint64_t)off_out + done);
		if (w < 0 && !done) {
			free(buf);
			return w;
		}
		if (w <= 0)
			break;
		done += (size_t)w;
		if (w < r)
			break;
	}
	free(buf);
	return (ssize_t)done;
}

ssize_t vfs_copy_file_range(struct vfs_file *in, off_t *off_in,
			    struct vfs_file *out, off_t *off_out, size_t len,
			    unsigned flags, const struct fuse_caller *who)
{
	off_t oi, oo;
	ssize_t n;

	struct stat st;
	int err;

	/* Linux's order: the descriptors (fdget refuses O_PATH), flags,
	 * then generic_file_rw_checks. */
	if ((in->flags & O_PATH) || (out->flags & O_PATH))
		return -EBADF;
	if (flags)
		return -EINVAL;
	if (S_ISDIR(in->inode->type) || S_ISDIR(out->inode->type))
		return -EISDIR;
	if (!S_ISREG(in->inode->type) || !S_ISREG(out->inode->type))
		return -EINVAL;
	if ((in->flags & O_PATH) || (in->flags & O_ACCMODE) == O_WRONLY ||
	    (out->flags & O_PATH) || (out->flags & O_ACCMODE) == O_RDONLY ||
	    (out->flags & O_APPEND))
		return -EBADF;
	err = vfs_getattr(in->m, who, in->inode, in, false, &st);
	if (err)
		return err;
	/* Both positions are ours for the call; address order keeps two
	 * copies in opposite directions from deadlocking. */
	pthread_mutex_lock(in < out ? &in->pos_lock : &out->pos_lock);
	if (in != out)
		pthread_mutex_lock(in < out ? &out->pos_lock : &in->pos_lock);
	oi = off_in ? *off_in : in->pos;
	oo = off_out ? *off_out : out->pos;
	if (oi < 0 || oo < 0) {
		n = -EINVAL;
		goto unlock;
	}
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	/* Nothing past the source's end is copied (and an empty range of
	 * one file overlaps nothing). */
	if (oi >= st.st_size)
		len = 0;
	else if ((uint64_t)len > (uint64_t)(st.st_size - oi))
		len = (size_t)(st.st_size - oi);
	if (in->inode == out->inode && oi < oo + (off_t)len &&
	    oo < oi + (off_t)len) {
		n = -EINVAL; /* overlapping ranges of one file */
		goto unlock;
	}
	if (!len) {
		n = 0;
		goto unlock;
	}
	/* The server copies what it has: our writes of both first. */
	vfs_wb_settle(in->inode, who);
	vfs_wb_settle(out->inode, who);
	n = fuse_op_copy_file_range(in->m->conn, who, in->inode->nodeid,
				    in->fh, (uint64_t)oi, out->inode->nodeid,
				    out->fh, (uint64_t)oo, len, 0);
	if (n == -ENOSYS || n == -EOPNOTSUPP || n == -EXDEV)
		n = copy_by_hand(in, oi, out, oo, len, who);
	else if (n > 0) {
		vfs_data_reached(out->m, out->inode, (uint64_t)oo + (uint64_t)n);
		/* The server wrote them: what we held of the range is old. */
		vfs_pc_invalidate(out->inode, (uint64_t)oo,
				  (uint64_t)oo + (uint64_t)n);
	}
	if (n > 0) {
		vfs_fsnotify_file(in, IN_ACCESS, true);
		vfs_fsnotify_file(out, IN_MODIFY, true);
		if (off_in)
			*off_in = oi + n;
		else
			in->pos = oi + n;
		if (off_out)
			*off_out = oo + n;
		else
			out->pos = oo + n;
	}
unlock:
	pthread_mutex_unlock(&out->pos_lock);
	if (in != out)
		pthread_mutex_unlock(&in->pos_lock);
	return n;
}
