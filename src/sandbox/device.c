/*
 * device.c - the emulated /dev/fuse. open("/dev/fuse") gives the caller
 * one end of a SOCK_SEQPACKET socketpair (one request per read, as the
 * device gives) at a number in the device window; fusebox keeps the other
 * end for the connection that mount(2) creates.
 *
 * Reads on the window are trapped only to end them as Linux does: after
 * unmount they fail with ENODEV, which servers take as a clean end. A
 * server blocked in a read when the mount goes gets a no-op message to
 * wake it, so that its next read comes to us.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "sandbox/sandbox.h"

#define CHAN_BUF_WANT (2 * 1024 * 1024)
#define WAKE_MESSAGES 16
#define WAKE_WAIT_MS 1000
/* An opcode no server knows: answered with ENOSYS, or EIO after
 * DESTROY, and then the server reads again. */
#define WAKE_OPCODE 0x7fff0001u
#define WAKE_UNIQUE_BASE 0x7ffffff000000000ull

long sbx_dev_open(struct sbx_call *c, int flags)
{
	struct sbx *sb = c->sb;
	struct sbx_device *d;
	struct stat st;
	int sv[2];
	long r;

	if ((flags & O_ACCMODE) != O_RDWR && (flags & O_ACCMODE) != O_RDONLY &&
	    (flags & O_ACCMODE) != O_WRONLY)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fuse_socket_grow(sv[0], CHAN_BUF_WANT);
	fuse_socket_grow(sv[1], CHAN_BUF_WANT);
	if (flags & O_NONBLOCK)
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
	d = calloc(1, sizeof(*d));
	if (!d || fstat(sv[1], &st) < 0) {
		free(d);
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	d->ours = sv[0];
	d->ino = st.st_ino;
	pthread_mutex_lock(&sb->lock);
	d->next = sb->devices;
	sb->devices = d;
	pthread_mutex_unlock(&sb->lock);
	r = sbx_send_fd(c, sv[1], SBX_DEV_LO, SBX_DEV_HI,
			(flags & O_CLOEXEC) != 0);
	close(sv[1]);
	return r;
}

struct sbx_device *sbx_dev_by_ino(struct sbx *sb, ino_t ino)
{
	struct sbx_device *found = NULL;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_device *d = sb->devices; d; d = d->next)
		if (d->ino == ino) {
			found = d;
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

static struct sbx_device *dev_of_fd(struct sbx_call *c, int fd)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/fd/%d", c->tid, fd);
	if (stat(p, &st) < 0 || !S_ISSOCK(st.st_mode))
		return NULL;
	return sbx_dev_by_ino(c->sb, st.st_ino);
}

long sbx_dev_read(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_device *d = dev_of_fd(c, (int)a[0]);

	if (!d)
		return SBX_CONTINUE;
	if (__atomic_load_n(&d->dead, __ATOMIC_ACQUIRE))
		return -ENODEV;
	/* Linux refuses a buffer that cannot hold the largest request. */
	if (c->n->data.nr == __NR_read && a[2] < FUSE_MIN_READ_BUFFER)
		return -EINVAL;
	return SBX_CONTINUE;
}

/* splice(pipe, NULL, devfd, NULL, len, flags): libfuse writes replies
 * this way (it may whenever the protocol is 7.14 or newer). Into a
 * SEQPACKET socket a splice goes as several packets, while /dev/fuse takes
 * it as one message: so we do it, taking the pipe and the server's end
 * from the caller (pidfd_getfd) and sending the bytes as one packet. */
long sbx_dev_splice_write(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_device *d = dev_of_fd(c, (int)a[2]);
	size_t len = (size_t)a[4], got = 0;
	int pidfd, in = -1, out = -1;
	char *buf = NULL;
	long r;

	if (!d)
		return SBX_CONTINUE;
	if (__atomic_load_n(&d->dead, __ATOMIC_ACQUIRE))
		return -ENODEV;
	if (a[1] || a[3] || len > SBX_DEV_MSG_MAX)
		return -EINVAL;
	pidfd = (int)syscall(SYS_pidfd_open, c->tid, 0);
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, sbx_tgid(c), 0);
	if (pidfd < 0)
		return -errno;
	in = (int)syscall(SYS_pidfd_getfd, pidfd, (int)a[0], 0);
	out = (int)syscall(SYS_pidfd_getfd, pidfd, (int)a[2], 0);
	close(pidfd);
	r = in < 0 || out < 0 ? -errno : 0;
	if (!r && !(buf = malloc(len ? len : 1)))
		r = -ENOMEM;
	while (!r && got < len) {
		/* The server filled the pipe before splicing: it is there. */
		ssize_t n = read(in, buf + got, len - got);

		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			got += (size_t)n;
	}
	if (!r)
		r = send(out, buf, len, MSG_NOSIGNAL) < 0 ? -errno : (long)len;
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

long sbx_dev_ioctl(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_device *d = dev_of_fd(c, (int)a[0]);

	if (!d)
		return SBX_CONTINUE;
	/* FUSE_DEV_IOC_CLONE (a second channel of one connection) is not
	 * emulated: libfuse then keeps using the first descriptor. */
	return -EOPNOTSUPP;
}

static void *close_when_done(void *arg)
{
	struct sbx_device *d = arg;
	struct pollfd p = { .fd = d->ours, .events = POLLRDHUP };

	/* Wait for the server to close its end (it read ENODEV and left),
	 * or give up: a server holding the end outside the window never
	 * gets ENODEV and must see end of file instead. */
	for (int waited = 0; waited < WAKE_WAIT_MS; waited += 50) {
		if (poll(&p, 1, 50) > 0 && (p.revents & (POLLHUP | POLLRDHUP)))
			break;
	}
	close(d->ours);
	d->ours = -1;
	return NULL;
}

void sbx_dev_shutdown(struct sbx *sb, struct sbx_device *d)
{
	struct fuse_in_header h = { .len = sizeof(h), .opcode = WAKE_OPCODE };
	pthread_t t;

	(void)sb;
	__atomic_store_n(&d->dead, true, __ATOMIC_RELEASE);
	for (int i = 0; i < WAKE_MESSAGES; i++) {
		h.unique = WAKE_UNIQUE_BASE + 2 * (uint64_t)i;
		if (send(d->ours, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	}
	if (pthread_create(&t, NULL, close_when_done, d) == 0)
		pthread_detach(t);
	else
		close_when_done(d);
}
