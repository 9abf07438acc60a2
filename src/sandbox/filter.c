/*
 * filter.c - the seccomp filter the sandboxed tree runs under.
 *
 * BPF cannot read memory, so every syscall that takes a path is sent to
 * the supervisor, which lets it through (CONTINUE) when the path lies
 * outside every mount. Syscalls that take a descriptor are sent only when
 * the descriptor lies in the window where fusebox puts its own
 * (SBX_VFD_*), or, for reads, where it puts emulated /dev/fuse ends
 * (SBX_DEV_*). Everything else runs at native speed.
 */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/fuse.h>
#include <linux/seccomp.h>

#include "sandbox/sandbox.h"

/* Syscalls whose first argument is a path, or a dirfd and then a path:
 * always trapped. */
static const int path_calls[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(statfs), SCMP_SYS(getxattr), SCMP_SYS(lgetxattr),
	SCMP_SYS(listxattr), SCMP_SYS(llistxattr),
	SCMP_SYS(chdir), SCMP_SYS(fchdir), SCMP_SYS(getcwd), SCMP_SYS(execve),
	SCMP_SYS(execveat), SCMP_SYS(mount), SCMP_SYS(umount2),
	SCMP_SYS(truncate), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(rmdir), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(symlink),
	SCMP_SYS(symlinkat), SCMP_SYS(chmod), SCMP_SYS(fchmodat),
	SCMP_SYS(chown), SCMP_SYS(lchown), SCMP_SYS(fchownat),
	SCMP_SYS(utime), SCMP_SYS(utimes), SCMP_SYS(utimensat),
	SCMP_SYS(futimesat), SCMP_SYS(mknod), SCMP_SYS(mknodat),
	SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(removexattr),
	SCMP_SYS(lremovexattr), SCMP_SYS(name_to_handle_at),
	/* The path is in the sockaddr: a Unix socket named on a mount. */
	SCMP_SYS(bind), SCMP_SYS(connect),
	/* Every inotify instance is fusebox's (sys_inotify.c). */
	SCMP_SYS(inotify_init), SCMP_SYS(inotify_init1),
};

/* Syscalls whose first argument is a descriptor: trapped in the window. */
static const int fd_calls[] = {
	SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv),
	SCMP_SYS(preadv), SCMP_SYS(preadv2), SCMP_SYS(write),
	SCMP_SYS(pwrite64), SCMP_SYS(writev), SCMP_SYS(pwritev),
	SCMP_SYS(pwritev2), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(fstatfs), SCMP_SYS(getdents64), SCMP_SYS(getdents),
	SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(dup3), SCMP_SYS(ioctl), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fchmod),
	SCMP_SYS(fchown), SCMP_SYS(fgetxattr), SCMP_SYS(flistxattr),
	SCMP_SYS(fsetxattr), SCMP_SYS(fremovexattr), SCMP_SYS(fadvise64),
	SCMP_SYS(flock), SCMP_SYS(readahead), SCMP_SYS(fallocate),
	SCMP_SYS(syncfs), SCMP_SYS(splice), SCMP_SYS(copy_file_range),
	SCMP_SYS(sendfile), SCMP_SYS(tee), SCMP_SYS(inotify_add_watch),
	SCMP_SYS(inotify_rm_watch),
};

/* Reads of an emulated /dev/fuse end. */
static const int dev_calls[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(splice),
};

static int add(scmp_filter_ctx ctx, int nr, unsigned n,
	       const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_NOTIFY, nr, n, cmp);

	/* A syscall this architecture lacks is simply not trapped. */
	return r == -EDOM || r == -EFAULT ? 0 : r;
}

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5) /* Linux 5.19 */
#endif

/* Load the filter ourselves: libseccomp 2.5 cannot ask for
 * WAIT_KILLABLE_RECV. With it, a trapped call that the supervisor has
 * taken is ended by fatal signals only; the supervisor looks for other
 * signals where Linux would (sbx_signal_pending), so that a close(2) or
 * a stat(2) on a fast server never fails with EINTR. Without it (an
 * older kernel) any signal ends a trapped call at once. */
static int load(scmp_filter_ctx ctx, bool *killable)
{
	int mfd = memfd_create("fusebox-bpf", MFD_CLOEXEC), fd, r;
	struct sock_fprog prog;
	off_t len;

	if (mfd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, mfd);
	len = r ? 0 : lseek(mfd, 0, SEEK_END);
	if (!r && (len <= 0 || len % sizeof(struct sock_filter)))
		r = -EINVAL;
	prog.len = (unsigned short)(len / sizeof(struct sock_filter));
	prog.filter = r ? NULL : malloc((size_t)len);
	if (!r && (!prog.filter || pread(mfd, prog.filter, (size_t)len, 0) !=
						   len))
		r = -EIO;
	close(mfd);
	if (r) {
		free(prog.filter);
		return r;
	}
	*killable = true;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER |
				  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
			  &prog);
	if (fd < 0 && errno == EINVAL) {
		*killable = false;
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	}
	r = fd < 0 ? -errno : fd;
	free(prog.filter);
	return r;
}

int sbx_filter_install(bool *killable)
{
	struct scmp_arg_cmp in_vfd[] = {
		SCMP_A0(SCMP_CMP_MASKED_EQ, SBX_VFD_MASK, SBX_VFD_VAL)
	};
	struct scmp_arg_cmp low_fd[] = {
		SCMP_A0(SCMP_CMP_LT, SBX_LOW_HI)
	};
	struct scmp_arg_cmp in_dev[] = {
		SCMP_A0(SCMP_CMP_MASKED_EQ, SBX_DEV_MASK, SBX_DEV_VAL)
	};
	struct scmp_arg_cmp mmap_vfd[] = {
		SCMP_A4(SCMP_CMP_MASKED_EQ, SBX_VFD_MASK, SBX_VFD_VAL)
	};
	struct scmp_arg_cmp sendfile_vfd[] = {
		SCMP_A1(SCMP_CMP_MASKED_EQ, SBX_VFD_MASK, SBX_VFD_VAL)
	};
	/* The descriptor written to: copy_file_range and splice. */
	struct scmp_arg_cmp out2_vfd[] = {
		SCMP_A2(SCMP_CMP_MASKED_EQ, SBX_VFD_MASK, SBX_VFD_VAL)
	};
	struct scmp_arg_cmp out2_dev[] = {
		SCMP_A2(SCMP_CMP_MASKED_EQ, SBX_DEV_MASK, SBX_DEV_VAL)
	};
	struct scmp_arg_cmp clone_ioctl[] = {
		SCMP_A1(SCMP_CMP_EQ, SBX_FUSE_DEV_IOC_CLONE)
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0, fd;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; !r && i < sizeof(path_calls) / sizeof(int); i++)
		r = add(ctx, path_calls[i], 0, NULL);
	for (size_t i = 0; !r && i < sizeof(fd_calls) / sizeof(int); i++) {
		r = add(ctx, fd_calls[i], 1, in_vfd);
		if (!r)
			r = add(ctx, fd_calls[i], 1, low_fd);
	}
	/* close only in the window (POSIX locks go at a process's first
	 * close): a trapped call can fail with EINTR when a signal comes
	 * before the supervisor has taken it, and close(2) must not (shells
	 * close low descriptors around every fork, as SIGCHLD arrives). */
	if (!r)
		r = add(ctx, SCMP_SYS(close), 1, in_vfd);
	for (size_t i = 0; !r && i < sizeof(dev_calls) / sizeof(int); i++)
		r = add(ctx, dev_calls[i], 1, in_dev);
	if (!r)
		r = add(ctx, SCMP_SYS(mmap), 1, mmap_vfd);
	/* Rare, and it names memory, not a descriptor: always. */
	if (!r)
		r = add(ctx, SCMP_SYS(msync), 0, NULL);
	if (!r)
		r = add(ctx, SCMP_SYS(sendfile), 1, sendfile_vfd);
	if (!r)
		r = add(ctx, SCMP_SYS(copy_file_range), 1, out2_vfd);
	if (!r)
		r = add(ctx, SCMP_SYS(splice), 1, out2_vfd);
	if (!r)
		r = add(ctx, SCMP_SYS(splice), 1, out2_dev);
	if (!r)
		r = add(ctx, SCMP_SYS(ioctl), 1, clone_ioctl);
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (!r && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	fd = r ? r : load(ctx, killable);
	seccomp_release(ctx);
	return fd;
}
