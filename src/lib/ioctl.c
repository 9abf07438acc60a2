/*
 * ioctl.c - libfusebox's ioctl(2) and poll(2): fb_ioctl moves the
 * argument as the kernel would for the command (vfs/ioctl.c says how
 * much), fb_poll polls every descriptor and sleeps until a NOTIFY_POLL
 * (vfs/poll.c) or the timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "lib/fs.h"

static int impl_fb_ioctl(struct fb_fs *fs, int fd, unsigned long cmd,
			 void *arg)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	size_t in, out, got = 0;
	char *buf = NULL;
	long r;

	if (!f)
		return -EBADF;
	if (f->flags & O_PATH) {
		r = -EBADF;
		goto out;
	}
	if (cmd == FIOCLEX || cmd == FIONCLEX) {
		r = 0; /* fusebox descriptors are never inherited */
		goto out;
	}
	if (f->native_fd >= 0) {
		/* A FIFO is the local kernel's, as on Linux. */
		r = ioctl(f->native_fd, cmd, arg);
		if (r < 0)
			r = -errno;
		goto out;
	}
	vfs_ioctl_sizes(f, (unsigned)cmd, &in, &out);
	/* A copy, as the kernel's: nothing reaches arg unless the server
	 * answered properly. */
	if (in || out) {
		if (!arg) {
			r = -EFAULT;
			goto out;
		}
		buf = calloc(1, in > out ? in : out);
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(buf, arg, in);
	}
	fb_caller(&who, 0);
	r = vfs_ioctl(f, &who, (unsigned)cmd, (uint64_t)(uintptr_t)arg, buf,
		      in, buf, out, &got);
	if (got)
		memcpy(arg, buf, got);
out:
	free(buf);
	vfs_file_put(f);
	return (int)r;
}

#define NATIVE_SLICE_MS 10

/* One pass over fds: how many have events to report. */
static int poll_once(struct fb_fs *fs, struct pollfd *fds, nfds_t n,
		     bool notify, bool *native)
{
	struct fuse_caller who;
	int ready = 0;

	fb_caller(&who, 0);
	for (nfds_t i = 0; i < n; i++) {
		struct vfs_file *f;
		unsigned ev;

		fds[i].revents = 0;
		if (fds[i].fd < 0)
			continue;
		f = fb_fd_get(fs, fds[i].fd);
		if (!f) {
			fds[i].revents = POLLNVAL;
			ready++;
			continue;
		}
		if (f->native_fd >= 0)
			*native = true;
		/* Linux asks for what poll(2) reports: events, POLLERR
		 * and POLLHUP. */
		ev = vfs_poll(f, &who,
			      (unsigned short)fds[i].events | POLLERR | POLLHUP,
			      notify);
		vfs_file_put(f);
		/* poll(2) reports what was asked, and always these. */
		ev &= (unsigned short)fds[i].events | POLLERR | POLLHUP |
		      POLLNVAL;
		fds[i].revents = (short)ev;
		if (ev)
			ready++;
	}
	return ready;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int impl_fb_poll(struct fb_fs *fs, struct pollfd *fds, nfds_t n,
			int timeout_ms)
{
	uint64_t start = vfs_now();

	if (n && !fds)
		return -EFAULT;
	for (;;) {
		/* Read before polling: a wakeup that comes between the
		 * answers and the wait is then not lost. */
		uint64_t seq = vfs_poll_seq(fs->m);
		bool native = false;
		int left = -1, ready, err;

		/* As Linux, notification is asked for only when the
		 * caller will wait for it. */
		ready = poll_once(fs, fds, n, timeout_ms != 0, &native);
		if (ready || timeout_ms == 0)
			return ready;
		if (timeout_ms > 0) {
			uint64_t spent = (vfs_now() - start) / 1000000u;

			if (spent >= (uint64_t)timeout_ms)
				return 0;
			left = timeout_ms - (int)spent;
		}
		/* A local FIFO cannot wake us: look again now and then. */
		if (native && (left < 0 || left > NATIVE_SLICE_MS))
			left = NATIVE_SLICE_MS;
		if (!n) {
			sleep_ms(left < 0 ? 1000 : left);
			continue;
		}
		err = vfs_poll_wait(fs->m, seq, left);
		if (err == -EINTR)
			return err;
	}
}

FB_GUARDED(int, fb_ioctl, (struct fb_fs *fs, int fd, unsigned long cmd, void *arg),
	   (fs, fd, cmd, arg))
FB_GUARDED(int, fb_poll, (struct fb_fs *fs, struct pollfd *fds, nfds_t n, int timeout_ms),
	   (fs, fds, n, timeout_ms))
