/*
 * dispatch.c - from a trapped syscall to its handler. The filter decides
 * what is trapped (filter.c); this decides who serves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "sandbox/sandbox.h"

static bool dev_window(long fd)
{
	return fd >= SBX_DEV_LO && fd < SBX_DEV_HI;
}

/* sendfile, splice and tee with a descriptor of ours on either side:
 * EINVAL, and programs fall back to read and write. */
static long sendfile_like(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	int nr = c->n->data.nr;

	if (!sbx_vfile_is(c, (int)a[0]) &&
	    !sbx_vfile_is(c, (int)a[nr == __NR_sendfile ? 1 : 2]))
		return SBX_CONTINUE;
	return -EINVAL;
}

long sbx_dispatch(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	long r;

	switch (c->n->data.nr) {
	case __NR_open:
		r = sbx_sys_open(c, AT_FDCWD, a[0], (int)a[1]);
		break;
	case __NR_creat:
		r = sbx_sys_open(c, AT_FDCWD, a[0],
				 O_CREAT | O_WRONLY | O_TRUNC);
		break;
	case __NR_openat:
		r = sbx_sys_open(c, (int)a[0], a[1], (int)a[2]);
		break;
	case __NR_openat2:
		r = sbx_sys_openat2(c);
		break;
	case __NR_stat:
		r = sbx_sys_stat(c, AT_FDCWD, a[0], a[1], 0);
		break;
	case __NR_lstat:
		r = sbx_sys_stat(c, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
		break;
	case __NR_newfstatat:
		r = sbx_sys_stat(c, (int)a[0], a[1], a[2], (int)a[3]);
		break;
	case __NR_statx:
		r = sbx_sys_statx(c);
		break;
	case __NR_access:
		r = sbx_sys_access(c, AT_FDCWD, a[0], (int)a[1], 0);
		break;
	case __NR_faccessat:
		r = sbx_sys_access(c, (int)a[0], a[1], (int)a[2], 0);
		break;
	case __NR_faccessat2:
		r = sbx_sys_access(c, (int)a[0], a[1], (int)a[2], (int)a[3]);
		break;
	case __NR_readlink:
		r = sbx_sys_readlink(c, AT_FDCWD, a[0], a[1], (size_t)a[2]);
		break;
	case __NR_readlinkat:
		r = sbx_sys_readlink(c, (int)a[0], a[1], a[2], (size_t)a[3]);
		break;
	case __NR_statfs:
		r = sbx_sys_statfs(c, a[0], a[1]);
		break;
	case __NR_getxattr:
		r = sbx_sys_getxattr(c, true);
		break;
	case __NR_lgetxattr:
		r = sbx_sys_getxattr(c, false);
		break;
	case __NR_listxattr:
		r = sbx_sys_listxattr(c, true);
		break;
	case __NR_llistxattr:
		r = sbx_sys_listxattr(c, false);
		break;
	case __NR_chdir:
		r = sbx_sys_chdir(c);
		break;
	case __NR_fchdir:
		r = sbx_sys_fchdir(c);
		break;
	case __NR_getcwd:
		r = sbx_sys_getcwd(c);
		break;
	case __NR_execve:
		r = sbx_sys_execve(c, AT_FDCWD, a[0], 0);
		break;
	case __NR_execveat:
		r = sbx_sys_execve(c, (int)a[0], a[1], (int)a[4]);
		break;
	case __NR_mount:
		r = sbx_sys_mount(c);
		break;
	case __NR_umount2:
		r = sbx_sys_umount2(c);
		break;
	case __NR_read:
	case __NR_readv: {
		bool mine = false;

		if (dev_window((long)a[0]))
			r = sbx_dev_read(c);
		else if ((r = sbx_inotify_fd_call(c, &mine)), mine)
			break;
		else if (c->n->data.nr == __NR_read)
			r = sbx_sys_read(c);
		else
			r = sbx_sys_readv(c, false, false);
		break;
	}
	case __NR_pread64:
		r = sbx_sys_pread(c);
		break;
	case __NR_preadv:
		r = sbx_sys_readv(c, true, false);
		break;
	case __NR_preadv2:
		r = sbx_sys_readv(c, true, true);
		break;
	case __NR_write:
		r = sbx_sys_write(c, false, false, false);
		break;
	case __NR_pwrite64:
		r = sbx_sys_write(c, true, false, false);
		break;
	case __NR_writev:
		r = sbx_sys_write(c, false, true, false);
		break;
	case __NR_pwritev:
		r = sbx_sys_write(c, true, true, false);
		break;
	case __NR_pwritev2:
		r = sbx_sys_write(c, true, true, true);
		break;
	case __NR_lseek:
		r = sbx_sys_lseek(c);
		break;
	case __NR_fstat:
		r = sbx_sys_fstat(c);
		break;
	case __NR_fstatfs:
		r = sbx_sys_fstatfs(c);
		break;
	case __NR_getdents64:
	case __NR_getdents:
		r = sbx_sys_getdents64(c);
		break;
	case __NR_fcntl:
		r = sbx_sys_fcntl(c);
		break;
	case __NR_dup:
		r = sbx_sys_dup(c, -1, 0, false);
		break;
	case __NR_dup2:
		r = sbx_sys_dup(c, (int)a[1], 0, true);
		break;
	case __NR_dup3:
		r = sbx_sys_dup(c, (int)a[1], (int)a[2], true);
		break;
	case __NR_fgetxattr:
		r = sbx_sys_fgetxattr(c);
		break;
	case __NR_flistxattr:
		r = sbx_sys_flistxattr(c);
		break;
	case __NR_mmap:
		r = sbx_sys_mmap(c);
		break;
	case __NR_msync:
		r = sbx_sys_msync(c);
		break;
	case __NR_ioctl: {
		bool mine = false;

		if ((unsigned)a[1] == SBX_FUSE_DEV_IOC_CLONE)
			r = sbx_dev_ioctl(c);
		else if ((r = sbx_inotify_fd_call(c, &mine)), !mine)
			r = sbx_sys_fd_other(c);
		break;
	}
	case __NR_inotify_init:
		r = sbx_sys_inotify_init(c, 0);
		break;
	case __NR_inotify_init1:
		r = sbx_sys_inotify_init(c, (int)a[0]);
		break;
	case __NR_inotify_add_watch:
		r = sbx_sys_inotify_add_watch(c);
		break;
	case __NR_inotify_rm_watch:
		r = sbx_sys_inotify_rm_watch(c);
		break;
	case __NR_splice:
		if (dev_window((long)a[0])) {
			r = sbx_dev_read(c);
			break;
		}
		if (dev_window((long)a[2])) {
			r = sbx_dev_splice_write(c);
			break;
		}
		r = sendfile_like(c);
		break;
	case __NR_sendfile:
	case __NR_tee:
		r = sendfile_like(c);
		break;
	case __NR_copy_file_range:
		r = sbx_sys_copy_file_range(c);
		break;
	case __NR_ftruncate:
	case __NR_fchmod:
	case __NR_fchown:
	case __NR_fsetxattr:
	case __NR_fremovexattr:
		r = sbx_sys_fchange(c);
		break;
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_syncfs:
	case __NR_fallocate:
	case __NR_fadvise64:
	case __NR_readahead:
	case __NR_flock:
		r = sbx_sys_fd_other(c);
		break;
	case __NR_close:
		r = sbx_sys_close(c);
		break;
	case __NR_bind:
		r = sbx_sys_bind(c);
		break;
	case __NR_connect:
		r = sbx_sys_connect(c);
		break;
	default:
		r = sbx_sys_modify(c);
	}
	if (c->sb->opts.debug && r != SBX_CONTINUE)
		fprintf(stderr, "fusebox: [%d] syscall %d -> %ld\n", c->tid,
			c->n->data.nr, r == SBX_SENT ? 0L : r);
	return r;
}
