/*
 * notify.c - answering trapped calls and reaching into the trapped
 * process: its memory (process_vm_readv/writev, which Docker's default
 * profile allows, unlike pidfd_getfd), descriptors given to it with
 * SECCOMP_IOCTL_NOTIF_ADDFD, and who it is.
 *
 * Memory read from the target is acted on only after ID_VALID says the
 * call is still waiting, so a pid reused in between cannot fool us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

int sbx_reply(struct sbx *sb, uint64_t id, long val)
{
	struct seccomp_notif_resp r = { .id = id };

	if (val == SBX_CONTINUE) {
		r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	} else if (val < 0) {
		r.error = (int32_t)val;
	} else {
		r.val = val;
	}
	if (ioctl(sb->listener, SECCOMP_IOCTL_NOTIF_SEND, &r) < 0)
		return -errno; /* ENOENT: the caller was interrupted */
	return 0;
}

bool sbx_call_valid(struct sbx_call *c)
{
	uint64_t id = c->n->id;

	return ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* A signal pending for thread tid, not blocked, with a handler: the
 * signals that make Linux stop an interruptible wait and run the handler.
 * A process-wide pending signal counts only for a single-threaded
 * process: another thread may take it. */
bool sbx_signal_pending(pid_t tid)
{
	unsigned long long pnd = 0, shd = 0, blk = 0, cgt = 0;
	char p[64], line[256];
	int threads = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", tid);
	f = fopen(p, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Threads:", 8))
			threads = atoi(line + 8);
		else if (!strncmp(line, "SigPnd:", 7))
			pnd = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "ShdPnd:", 7))
			shd = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "SigBlk:", 7))
			blk = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "SigCgt:", 7))
			cgt = strtoull(line + 7, NULL, 16);
	}
	fclose(f);
	if (threads == 1)
		pnd |= shd;
	return (pnd & ~blk & cgt) != 0;
}

bool sbx_call_gone(struct sbx_call *c)
{
	int nr = c->n->data.nr;

	if (c->answered || !sbx_call_valid(c))
		return true;
	/* execve is not ended by a caught signal on Linux: it waits for
	 * its reads (a FUSE server ignoring INTERRUPT, as most do). */
	if (!c->sb->killable || nr == SYS_close || nr == SYS_close_range ||
	    nr == SYS_execve || nr == SYS_execveat ||
	    !sbx_signal_pending(c->tid))
		return false;
	c->answered = sbx_reply(c->sb, c->n->id, -SBX_ERESTARTSYS) == 0;
	return true;
}

int sbx_read_mem(struct sbx_call *c, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_readv(c->tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

int sbx_write_mem(struct sbx_call *c, uint64_t addr, const void *buf,
		  size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (!len)
		return 0;
	/* The narrowest window we can give a signal to reuse the buffer. */
	if (!sbx_call_valid(c))
		return -EINTR;
	n = process_vm_writev(c->tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

int sbx_read_str(struct sbx_call *c, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	if (!addr)
		return -EFAULT;
	/* Page by page: the string may end just before an unmapped page. */
	while (got < size) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		struct iovec local, remote;
		ssize_t n;
		char *nul;

		if (chunk > size - got)
			chunk = size - got;
		local.iov_base = buf + got;
		local.iov_len = chunk;
		remote.iov_base = (void *)(uintptr_t)(addr + got);
		remote.iov_len = chunk;
		n = process_vm_readv(c->tid, &local, 1, &remote, 1, 0);
		if (n <= 0)
			return -EFAULT;
		nul = memchr(buf + got, '\0', (size_t)n);
		if (nul)
			return 0;
		got += (size_t)n;
	}
	return -ENAMETOOLONG;
}

static bool fd_free(pid_t tid, int fd)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/fd/%d", tid, fd);
	return faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	       errno == ENOENT;
}

int sbx_low_free_fd(struct sbx_call *c, int min)
{
	for (int n = min < 0 ? 0 : min; n < SBX_LOW_HI; n++)
		if (fd_free(c->tid, n))
			return n;
	return -1;
}

long sbx_send_fd_at(struct sbx_call *c, int fd, int newfd, bool cloexec)
{
	struct seccomp_notif_addfd a = {
		.id = c->n->id,
		.flags = SECCOMP_ADDFD_FLAG_SETFD | SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)fd,
		.newfd = (uint32_t)newfd,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int r = ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);

	if (r < 0)
		return errno == EBADF ? -EMFILE : -errno;
	return SBX_SENT;
}

long sbx_install_fd(struct sbx_call *c, int fd, int newfd, bool cloexec)
{
	struct seccomp_notif_addfd a = {
		.id = c->n->id,
		.flags = SECCOMP_ADDFD_FLAG_SETFD,
		.srcfd = (uint32_t)fd,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int r;

	for (int n = SBX_VFD_LO; newfd < 0 && n < SBX_VFD_HI; n++)
		if (fd_free(c->tid, n))
			newfd = n;
	if (newfd < 0)
		return -EMFILE;
	a.newfd = (uint32_t)newfd;
	r = ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
	if (r < 0)
		return errno == EBADF ? -EMFILE : -errno;
	return r;
}

long sbx_send_fd(struct sbx_call *c, int fd, int lo, int hi, bool cloexec)
{
	/* The kernel would give the lowest free number; we give the
	 * lowest free one of the window, which is what lets us trap its
	 * use. */
	for (int n = lo; n < hi; n++)
		if (fd_free(c->tid, n))
			return sbx_send_fd_at(c, fd, n, cloexec);
	return -EMFILE;
}

/* The ids a FUSE request carries for this caller: the owner of
 * /proc/TID is the task's effective uid and gid (fsuid follows euid
 * unless setfsuid was called: see docs/sandbox.md). */
const struct fuse_caller *sbx_who(struct sbx_call *c)
{
	char p[32];
	struct stat st;

	if (c->who_known)
		return &c->who;
	snprintf(p, sizeof(p), "/proc/%d", c->tid);
	if (stat(p, &st) == 0) {
		c->who.uid = st.st_uid;
		c->who.gid = st.st_gid;
	} else {
		c->who.uid = c->who.gid = (uint32_t)-1;
	}
	c->who.pid = (uint32_t)c->tid;
	c->who.ngroups = -1; /* read when a check needs them */
	c->who_known = true;
	return &c->who;
}

const struct fuse_caller *sbx_who_umask(struct sbx_call *c)
{
	char p[48], line[128];
	unsigned um = 022;
	FILE *f;

	sbx_who(c);
	snprintf(p, sizeof(p), "/proc/%d/status", c->tid);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &um) == 1)
			break;
	if (f)
		fclose(f);
	c->who.umask = um & 0777;
	return &c->who;
}
