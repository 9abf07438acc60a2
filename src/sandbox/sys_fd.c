/*
 * sys_fd.c - syscalls on a descriptor in the trapped window. A
 * descriptor that is not one of our placeholders (a native file the
 * program put there) goes back to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* One trapped read moves at most this much; read(2) may return less
 * than asked, and programs loop. */
#define READ_MAX (8 * 1024 * 1024)
/* And a trapped write at most this (a short write beyond it). */
#define WRITE_MAX (64 * 1024 * 1024)

/* The vfile of the first argument, or the call goes to the kernel: also
 * for a FIFO's, whose data the kernel serves (WITH_VFILE_META takes
 * those too, for calls about the node). */
#define WITH_VFILE_META(c, v)                                        \
	struct sbx_vfile *v = sbx_vfile_of(c, (int)(c)->n->data.args[0]); \
	if (!v)                                                      \
		return SBX_CONTINUE
#define WITH_VFILE(c, v)                                             \
	WITH_VFILE_META(c, v);                                       \
	if (v->fifo) {                                               \
		sbx_vfile_put((c)->sb, v);                           \
		return SBX_CONTINUE;                                 \
	}

/* Checks read(2) makes before reading. */
static long readable(struct sbx_vfile *v)
{
	if ((v->f->flags & O_PATH) || (v->f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (S_ISDIR(v->f->inode->type))
		return -EISDIR;
	return 0;
}

/* Read count bytes at off (-1: the file position) and scatter them into
 * the caller's iovecs. */
static long read_into(struct sbx_call *c, struct sbx_vfile *v,
		      const struct iovec *riov, int n_iov, size_t count,
		      off_t off)
{
	char *buf;
	ssize_t n;
	long err = readable(v);

	if (err)
		return err;
	if (count > READ_MAX)
		count = READ_MAX;
	if (!count)
		return 0;
	buf = malloc(count);
	if (!buf)
		return -ENOMEM;
	if (off < 0) {
		n = vfs_read(v->f, sbx_who(c), buf, count);
	} else if (v->f->open_flags & (FOPEN_NONSEEKABLE | FOPEN_STREAM)) {
		n = -ESPIPE;
	} else {
		n = vfs_pread(v->f, sbx_who(c), buf, count, off);
	}
	if (n > 0) {
		struct iovec local = { buf, (size_t)n };

		if (!sbx_call_valid(c)) {
			/* Interrupted: the data goes nowhere; put the
			 * position back as if nothing was read. */
			if (off < 0) {
				pthread_mutex_lock(&v->f->pos_lock);
				v->f->pos -= n;
				pthread_mutex_unlock(&v->f->pos_lock);
			}
			n = -EINTR;
		} else if (process_vm_writev(c->tid, &local, 1, riov,
					     (unsigned long)n_iov, 0) != n) {
			n = -EFAULT;
		}
	}
	free(buf);
	/* Before the caller returns: its next poll sees what is left. */
	sbx_vpoll_after(c, v);
	return n;
}

long sbx_sys_read(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct iovec r = { (void *)(uintptr_t)a[1], (size_t)a[2] };
	long n;
	WITH_VFILE(c, v);

	n = read_into(c, v, &r, 1, (size_t)a[2], -1);
	sbx_vfile_put(c->sb, v);
	return n;
}

long sbx_sys_pread(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct iovec r = { (void *)(uintptr_t)a[1], (size_t)a[2] };
	long n;
	WITH_VFILE(c, v);

	n = (int64_t)a[3] < 0 ? -EINVAL
			      : read_into(c, v, &r, 1, (size_t)a[2], (off_t)a[3]);
	sbx_vfile_put(c->sb, v);
	return n;
}

long sbx_sys_readv(struct sbx_call *c, bool positional, bool v2)
{
	const __u64 *a = c->n->data.args;
	int n_iov = (int)a[2];
	struct iovec *iov;
	size_t total = 0;
	off_t off = -1;
	long n;
	WITH_VFILE(c, v);

	if (n_iov < 0 || n_iov > IOV_MAX) {
		sbx_vfile_put(c->sb, v);
		return -EINVAL;
	}
	if (positional)
		off = (off_t)a[3];
	if (v2 && off == -1)
		positional = false;
	if (positional && off < 0) {
		sbx_vfile_put(c->sb, v);
		return -EINVAL;
	}
	iov = calloc((size_t)n_iov + 1, sizeof(*iov));
	if (!iov || sbx_read_mem(c, a[1], iov, (size_t)n_iov * sizeof(*iov))) {
		free(iov);
		sbx_vfile_put(c->sb, v);
		return iov ? -EFAULT : -ENOMEM;
	}
	for (int i = 0; i < n_iov; i++)
		total += iov[i].iov_len;
	n = read_into(c, v, iov, n_iov, total, positional ? off : -1);
	free(iov);
	sbx_vfile_put(c->sb, v);
	return n;
}

/* Gather count bytes from the caller's iovecs and write them at off
 * (-1: the file position). What is returned is what the server took. */
static long write_from(struct sbx_call *c, struct sbx_vfile *v,
		       const struct iovec *riov, int n_iov, size_t count,
		       off_t off)
{
	struct iovec local;
	char *buf;
	ssize_t n;

	if ((v->f->flags & O_PATH) || (v->f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (count > WRITE_MAX)
		count = WRITE_MAX; /* a short write; programs loop */
	if (!count)
		return 0;
	buf = malloc(count);
	if (!buf)
		return -ENOMEM;
	local = (struct iovec){ buf, count };
	n = process_vm_readv(c->tid, &local, 1, riov, (unsigned long)n_iov, 0);
	if (n <= 0) {
		free(buf);
		return -EFAULT;
	}
	count = (size_t)n; /* as Linux: up to the first bad address */
	if (off < 0)
		n = vfs_write(v->f, sbx_who(c), buf, count);
	else if (v->f->open_flags & (FOPEN_NONSEEKABLE | FOPEN_STREAM))
		n = -ESPIPE;
	else
		n = vfs_pwrite(v->f, sbx_who(c), buf, count, off);
	free(buf);
	sbx_vpoll_after(c, v);
	return n;
}

long sbx_sys_write(struct sbx_call *c, bool positional, bool vec, bool v2)
{
	const __u64 *a = c->n->data.args;
	struct iovec one = { (void *)(uintptr_t)a[1], (size_t)a[2] };
	struct iovec *iov = &one;
	int n_iov = 1;
	size_t total = (size_t)a[2];
	off_t off = -1;
	long n;
	WITH_VFILE(c, v);

	if (positional) {
		off = (off_t)a[vec ? 3 : 3];
		if (v2 && off == -1)
			positional = false;
		else if (off < 0) {
			sbx_vfile_put(c->sb, v);
			return -EINVAL;
		}
	}
	if (vec) {
		n_iov = (int)a[2];
		if (n_iov < 0 || n_iov > IOV_MAX) {
			sbx_vfile_put(c->sb, v);
			return -EINVAL;
		}
		iov = calloc((size_t)n_iov + 1, sizeof(*iov));
		if (!iov || sbx_read_mem(c, a[1], iov,
					 (size_t)n_iov * sizeof(*iov))) {
			free(iov);
			sbx_vfile_put(c->sb, v);
			return iov ? -EFAULT : -ENOMEM;
		}
		total = 0;
		for (int i = 0; i < n_iov; i++)
			total += iov[i].iov_len;
	}
	n = write_from(c, v, iov, n_iov, total, positional ? off : -1);
	if (iov != &one)
		free(iov);
	sbx_vfile_put(c->sb, v);
	return n;
}

/* The file type behind fd: a vfile's inode, else the caller's own. */
static mode_t fd_type(struct sbx_call *c, struct sbx_vfile *v, int fd)
{
	char p[64];
	struct stat st;

	if (v)
		return v->f->inode->type;
	snprintf(p, sizeof(p), "/proc/%d/fd/%d", c->tid, fd);
	return stat(p, &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

long sbx_sys_copy_file_range(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_vfile *in = sbx_vfile_of(c, (int)a[0]);
	struct sbx_vfile *out = sbx_vfile_of(c, (int)a[2]);
	off_t oi, oo;
	long n;

	if (!in && !out)
		return SBX_CONTINUE;
	if (!in || !out || in->mnt != out->mnt || in->fifo || out->fifo) {
		mode_t ti = fd_type(c, in, (int)a[0]);
		mode_t to = fd_type(c, out, (int)a[2]);

		/* Linux's order: flags, directories, other non-files, and
		 * only then across filesystems (programs copy by hand). */
		if (a[5])
			n = -EINVAL;
		else if (S_ISDIR(ti) || S_ISDIR(to))
			n = -EISDIR;
		else if (!S_ISREG(ti) || !S_ISREG(to))
			n = -EINVAL;
		else
			n = -EXDEV;
		goto out;
	}
	if ((a[1] && sbx_read_mem(c, a[1], &oi, sizeof(oi))) ||
	    (a[3] && sbx_read_mem(c, a[3], &oo, sizeof(oo)))) {
		n = -EFAULT;
		goto out;
	}
	n = vfs_copy_file_range(in->f, a[1] ? &oi : NULL, out->f,
				a[3] ? &oo : NULL, (size_t)a[4],
				(unsigned)a[5], sbx_who(c));
	if (n > 0 && ((a[1] && sbx_write_mem(c, a[1], &oi, sizeof(oi))) ||
		      (a[3] && sbx_write_mem(c, a[3], &oo, sizeof(oo)))))
		n = -EFAULT;
out:
	if (in)
		sbx_vfile_put(c->sb, in);
	if (out)
		sbx_vfile_put(c->sb, out);
	return n;
}

long sbx_sys_lseek(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	off_t r;
	WITH_VFILE(c, v);

	/* SEEK_DATA/SEEK_HOLE ask the server, which must have seen the
	 * closes the program made before (a close writes back cached
	 * writes, and Linux's close does so before it returns). */
	if ((int)a[2] == SEEK_DATA || (int)a[2] == SEEK_HOLE)
		sbx_vfile_settle(c->sb);
	r = (v->f->flags & O_PATH) ? -EBADF
				   : vfs_lseek(v->f, sbx_who(c), (off_t)a[1],
					       (int)a[2]);
	sbx_vfile_put(c->sb, v);
	return r;
}

long sbx_sys_fstat(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct stat st;
	long err;
	WITH_VFILE_META(c, v);

	err = vfs_getattr(v->mnt->fs->m, sbx_who(c), v->f->inode, v->f, false,
			  &st);
	if (!err)
		err = sbx_write_mem(c, a[1], &st, sizeof(st));
	sbx_vfile_put(c->sb, v);
	return err;
}

long sbx_sys_fstatfs(struct sbx_call *c)
{
	long err;
	WITH_VFILE_META(c, v);

	err = sbx_statfs_of(c, v->mnt, v->f->inode, c->n->data.args[1]);
	sbx_vfile_put(c->sb, v);
	return err;
}

long sbx_sys_getdents64(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	size_t count = (size_t)a[2];
	char *buf;
	ssize_t n;
	WITH_VFILE(c, v);

	if (c->n->data.nr != __NR_getdents64) {
		/* The old getdents layout is not produced. */
		sbx_vfile_put(c->sb, v);
		return -ENOSYS;
	}
	if (v->f->flags & O_PATH) {
		sbx_vfile_put(c->sb, v);
		return -EBADF;
	}
	if (!S_ISDIR(v->f->inode->type)) {
		sbx_vfile_put(c->sb, v);
		return -ENOTDIR;
	}
	if (count > READ_MAX)
		count = READ_MAX;
	buf = malloc(count ? count : 1);
	if (!buf) {
		sbx_vfile_put(c->sb, v);
		return -ENOMEM;
	}
	n = vfs_getdents64(v->f, sbx_who(c), buf, count);
	if (n > 0) {
		long err = sbx_write_mem(c, a[1], buf, (size_t)n);

		if (err)
			n = err;
	}
	free(buf);
	sbx_vfile_put(c->sb, v);
	return n;
}

long sbx_sys_fchdir(struct sbx_call *c)
{
	struct sbx_vfile *v = sbx_vfile_of(c, (int)c->n->data.args[0]);
	long err;

	if (!v) {
		/* A native directory: forget any cwd in a mount. */
		struct sbx_cwd *cwd = sbx_cwd_get(c);

		if (cwd) {
			sbx_cwd_put(c->sb, cwd);
			sbx_cwd_set(c, NULL);
		}
		return SBX_CONTINUE;
	}
	err = sbx_enter_dir(c, v->mnt, v->f->inode, v->path);
	sbx_vfile_put(c->sb, v);
	return err;
}

/* A new descriptor on the same open file: a placeholder in the window
 * at newfd (or the first free number from lo), sharing offset and flags
 * as dup(2) does. */
static long dup_in_window(struct sbx_call *c, struct sbx_vfile *v, int newfd,
			  bool cloexec)
{
	vfs_file_get(v->f);
	return sbx_vfile_send(c, v->mnt, v->f, v->path, cloexec, newfd);
}

/* A descriptor leaving the window. Below SBX_LOW_HI (dup2(fd, 1) for
 * `cmd > file`) the fd calls are still trapped: it gets a placeholder
 * like one of the window. Elsewhere a file open for reading gets a copy
 * of its data in a memfd, at the same offset (`cmd < file` where the
 * shell uses a high number); one open for writing gets a placeholder,
 * on which writes fail with EBADF rather than go astray. */
static long dup_out(struct sbx_call *c, struct sbx_vfile *v, int newfd,
		    bool cloexec)
{
	long r;
	int fd;

	if ((newfd >= 0 && newfd < SBX_LOW_HI) ||
	    (v->f->flags & O_ACCMODE) != O_RDONLY) {
		vfs_file_get(v->f);
		return sbx_vfile_send(c, v->mnt, v->f, v->path, cloexec, newfd);
	}
	if (!S_ISREG(v->f->inode->type) || (v->f->flags & O_PATH))
		return -EXDEV; /* see docs/sandbox.md */
	fd = sbx_vfile_copy(c, v);
	if (fd < 0)
		return fd;
	if (newfd >= 0) {
		r = sbx_send_fd_at(c, fd, newfd, cloexec);
	} else {
		struct seccomp_notif_addfd a = {
			.id = c->n->id,
			.flags = SECCOMP_ADDFD_FLAG_SEND,
			.srcfd = (uint32_t)fd,
			.newfd_flags = cloexec ? O_CLOEXEC : 0,
		};

		r = ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0
			    ? -errno
			    : SBX_SENT;
	}
	close(fd);
	return r;
}

static bool in_window(long fd)
{
	return fd >= SBX_VFD_LO && fd < SBX_VFD_HI;
}

long sbx_sys_dup(struct sbx_call *c, int newfd, int flags, bool dup2)
{
	const __u64 *a = c->n->data.args;
	long r;
	WITH_VFILE(c, v);

	if (dup2 && newfd == (int)a[0]) {
		sbx_vfile_put(c->sb, v);
		/* dup2 returns it; dup3 refuses it. */
		return c->n->data.nr == __NR_dup3 ? -EINVAL : newfd;
	}
	if (c->n->data.nr == __NR_dup3 && (flags & ~O_CLOEXEC)) {
		sbx_vfile_put(c->sb, v);
		return -EINVAL;
	}
	if (newfd < 0 && dup2) {
		sbx_vfile_put(c->sb, v);
		return -EBADF;
	}
	if (newfd < 0) {
		/* dup(2) gives the lowest free number, and programs count
		 * on it (close(1); dup(fd)): below SBX_LOW_HI it is still
		 * trapped, so it can be given; above, the window's. */
		newfd = sbx_low_free_fd(c, 0);
	}
	if (newfd < 0 || in_window(newfd))
		r = dup_in_window(c, v, newfd, (flags & O_CLOEXEC) != 0);
	else
		r = dup_out(c, v, newfd, (flags & O_CLOEXEC) != 0);
	sbx_vfile_put(c->sb, v);
	return r;
}

/* fcntl record locks. A process's POSIX locks are owned by its thread
 * group; OFD locks by the open file. */
static long record_lock(struct sbx_call *c, struct sbx_vfile *v, int cmd,
			uint64_t addr)
{
	bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK ||
		   cmd == F_OFD_SETLKW;
	int vcmd = cmd == F_GETLK || cmd == F_OFD_GETLK	   ? F_GETLK
		   : cmd == F_SETLKW || cmd == F_OFD_SETLKW ? F_SETLKW
							    : F_SETLK;
	struct flock fl;
	uint64_t owner;
	long r;

	if (sbx_read_mem(c, addr, &fl, sizeof(fl)))
		return -EFAULT;
	if (ofd && fl.l_pid != 0)
		return -EINVAL;
	owner = ofd ? (uint64_t)(uintptr_t)v->f : sbx_lock_owner(c, v);
	/* Closes the program made before this call release their locks
	 * first (their events may still be on their way), as on Linux. */
	sbx_vfile_settle(c->sb);
	r = vfs_lock(v->f, sbx_who(c), vcmd, owner, &fl);
	if (r || vcmd != F_GETLK)
		return r;
	if (fl.l_type != F_UNLCK && (ofd || fl.l_pid == 0))
		fl.l_pid = -1;
	return sbx_write_mem(c, addr, &fl, sizeof(fl));
}

/* F_GETFL as Linux shows it for a file opened with these flags. */
static long getfl(const struct vfs_file *f)
{
	return (f->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC |
			     O_CLOEXEC)) |
	       O_LARGEFILE;
}

long sbx_sys_fcntl(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	const int settable = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME |
			     O_ASYNC;
	long r;
	WITH_VFILE(c, v);

	switch ((int)a[1]) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		long min = (long)a[2];
		bool cloexec = (int)a[1] == F_DUPFD_CLOEXEC;

		if (min < 0 || min >= SBX_VFD_HI) {
			r = min < 0 ? -EINVAL : dup_out(c, v, -1, cloexec);
			break;
		}
		if (min < SBX_LOW_HI) {
			int n = sbx_low_free_fd(c, (int)min);

			if (n >= 0) {
				r = dup_in_window(c, v, n, cloexec);
				break;
			}
		}
		/* The first free number of the window at or above min. */
		r = -EMFILE;
		for (long n = min > SBX_VFD_LO ? min : SBX_VFD_LO;
		     n < SBX_VFD_HI; n++) {
			char p[64];
			struct stat st;

			snprintf(p, sizeof(p), "/proc/%d/fd/%ld", c->tid, n);
			if (lstat(p, &st) < 0) {
				r = dup_in_window(c, v, (int)n, cloexec);
				break;
			}
		}
		break;
	}
	case F_GETFL:
		r = getfl(v->f);
		break;
	case F_SETFL:
		__atomic_store_n(&v->f->flags,
				 (v->f->flags & ~settable) |
					 ((int)a[2] & settable),
				 __ATOMIC_RELAXED);
		r = 0;
		break;
	case F_ADD_SEALS:
	case F_GET_SEALS:
		r = -EINVAL; /* not a memfd, whatever the placeholder is */
		break;
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		r = record_lock(c, v, (int)a[1], a[2]);
		break;
	default:
		/* F_GETFD/F_SETFD are the descriptor's own. */
		r = SBX_CONTINUE;
	}
	sbx_vfile_put(c->sb, v);
	return r;
}

long sbx_sys_fgetxattr(struct sbx_call *c)
{
	long r;
	WITH_VFILE_META(c, v);

	r = sbx_xattr_get(c, v->mnt, v->f->inode, false);
	sbx_vfile_put(c->sb, v);
	return r;
}

long sbx_sys_flistxattr(struct sbx_call *c)
{
	long r;
	WITH_VFILE_META(c, v);

	r = sbx_xattr_get(c, v->mnt, v->f->inode, true);
	sbx_vfile_put(c->sb, v);
	return r;
}

/* ioctl(2): the argument moves as Linux moves it for the command
 * (vfs_ioctl_sizes), through a copy: nothing is written back unless the
 * server answered. */
static long file_ioctl(struct sbx_call *c, struct sbx_vfile *v, unsigned cmd,
		       uint64_t arg)
{
	size_t in, out, got = 0;
	char *buf = NULL;
	long r;

	vfs_ioctl_sizes(v->f, cmd, &in, &out);
	if (in || out) {
		buf = calloc(1, in > out ? in : out);
		if (!buf)
			return -ENOMEM;
		if (sbx_read_mem(c, arg, buf, in)) {
			free(buf);
			return -EFAULT;
		}
	}
	r = vfs_ioctl(v->f, sbx_who(c), cmd, arg, buf, in, buf, out, &got);
	if (got) {
		int err = sbx_write_mem(c, arg, buf, got);

		if (err)
			r = err;
	}
	free(buf);
	sbx_vpoll_after(c, v);
	return r;
}

long sbx_sys_fd_other(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	long r = SBX_CONTINUE;
	WITH_VFILE(c, v);

	switch (c->n->data.nr) {
	case __NR_ioctl:
		if (v->f->flags & O_PATH)
			r = -EBADF; /* ioctl(2) does not see O_PATH files */
		else if ((unsigned)a[1] == FIOCLEX ||
			 (unsigned)a[1] == FIONCLEX)
			r = SBX_CONTINUE; /* the descriptor's own flag */
		else
			r = file_ioctl(c, v, (unsigned)a[1], a[2]);
		break;
	case __NR_fsync:
	case __NR_fdatasync:
		r = vfs_fsync(v->f, sbx_who(c),
			      c->n->data.nr == __NR_fdatasync);
		break;
	case __NR_syncfs:
		r = vfs_syncfs(v->mnt->fs->m, sbx_who(c));
		break;
	case __NR_fallocate:
		r = vfs_fallocate(v->f, sbx_who(c), (int)a[1], (off_t)a[2],
				  (off_t)a[3]);
		break;
	case __NR_fadvise64:
	case __NR_readahead:
		r = 0;
		break;
	case __NR_flock:
		sbx_vfile_settle(c->sb); /* as for record locks */
		r = vfs_flock(v->f, sbx_who(c), (int)a[1]);
		break;
	}
	sbx_vfile_put(c->sb, v);
	return r;
}
