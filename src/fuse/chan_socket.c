/*
 * chan_socket.c - the transport over a SOCK_SEQPACKET socket: one message
 * per request and per reply, as on /dev/fuse.
 *
 * Callers send their own requests (kick) without blocking; when the
 * socket is full, the I/O thread waits for room and sends the rest. The
 * I/O thread also reads every reply: it peeks at the header, and the
 * connection then reads the message straight into the request's buffers.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "fuse/conn.h"

struct sock_chan {
	struct fuse_chan base;
	int fd;
	int wake_fd;
	struct fuse_conn *conn;
	pthread_t thread;
	bool started;
	pthread_mutex_t send_lock;
	bool want_out;	/* the socket was full: the I/O thread sends */
	bool stopping;
};

static void wake(struct sock_chan *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is non-zero already: the thread will wake. */
	}
}

/* Set while this thread is in sock_kick: a request completed there
 * (fuse_conn_sent) may run a done callback that queues another request
 * (a RELEASE's answer lets its inode go, which queues a FORGET). Such a
 * nested kick returns at once; the loop below picks the request up. */
static __thread bool kicking;

static void sock_kick(struct fuse_chan *ch)
{
	struct sock_chan *s = (struct sock_chan *)ch;
	struct iovec iov[1 + FUSE_MAX_IN_ARGS];
	struct fuse_req *req;
	int broken = 0;

	if (kicking)
		return;
	kicking = true;
	pthread_mutex_lock(&s->send_lock);
	while (!s->want_out && !s->stopping &&
	       (req = fuse_conn_next_request(s->conn))) {
		struct msghdr msg = { .msg_iov = iov };
		ssize_t n, len = (ssize_t)req->in.len;

		iov[0].iov_base = &req->in;
		iov[0].iov_len = sizeof(req->in);
		for (int i = 0; i < req->n_in; i++)
			iov[1 + i] = req->in_args[i];
		msg.msg_iovlen = 1 + req->n_in;
		if (s->conn->params.debug)
			fprintf(stderr, "fusebox: -> %s unique %llu node %llu\n",
				fuse_opcode_name(req->in.opcode),
				(unsigned long long)req->in.unique,
				(unsigned long long)req->in.nodeid);
		n = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		int send_err = n < 0 ? errno : 0;
		if (send_err == EAGAIN || send_err == EINTR) {
			fuse_conn_requeue(s->conn, req);
			s->want_out = true;
			wake(s);
			break;
		}
		fuse_conn_sent(s->conn, req); /* may free req */
		if (n != len) {
			broken = send_err ? send_err : EMSGSIZE;
			break;
		}
	}
	pthread_mutex_unlock(&s->send_lock);
	kicking = false;
	if (broken) {
		char why[128];

		snprintf(why, sizeof(why), "cannot send to the server: %s",
			 strerror(broken));
		fuse_conn_abort(s->conn, -ECONNABORTED, why);
	}
}

static long sock_recv_into(void *ctx, const struct iovec *iov, int n)
{
	struct sock_chan *s = ctx;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	char dummy;
	struct iovec one = { &dummy, 1 };
	ssize_t r;

	if (!iov) {
		msg.msg_iov = &one;
		msg.msg_iovlen = 1;
	}
	do
		r = recvmsg(s->fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void *io_thread(void *arg)
{
	struct sock_chan *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
				       { .fd = s->wake_fd, .events = POLLIN } };
		struct fuse_out_header oh;
		ssize_t n;

		pthread_mutex_lock(&s->send_lock);
		if (s->want_out)
			p[0].events |= POLLOUT;
		pthread_mutex_unlock(&s->send_lock);
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			uint64_t v;

			if (read(s->wake_fd, &v, sizeof(v)) < 0) {
				/* Nothing to read: a spurious wake-up. */
			}
			pthread_mutex_lock(&s->send_lock);
			bool stop = s->stopping;
			pthread_mutex_unlock(&s->send_lock);
			if (stop)
				break;
		}
		if (p[0].revents & POLLOUT) {
			pthread_mutex_lock(&s->send_lock);
			s->want_out = false;
			pthread_mutex_unlock(&s->send_lock);
			sock_kick(&s->base);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		memset(&oh, 0, sizeof(oh));
		n = recv(s->fd, &oh, sizeof(oh), MSG_PEEK | MSG_TRUNC |
						    MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 || (n == 0 && (p[0].revents & (POLLHUP | POLLERR)))) {
			fuse_conn_abort(s->conn, -ECONNABORTED,
					"the server closed its channel");
			break;
		}
		fuse_conn_receive(s->conn, &oh, n, sock_recv_into, s);
		sock_kick(&s->base); /* replies free slots for waiting requests */
	}
	return NULL;
}

static int sock_start(struct fuse_chan *ch, struct fuse_conn *conn)
{
	struct sock_chan *s = (struct sock_chan *)ch;
	int err;

	s->conn = conn;
	err = pthread_create(&s->thread, NULL, io_thread, s);
	if (err)
		return -err;
	s->started = true;
	return 0;
}

static void sock_stop(struct fuse_chan *ch)
{
	struct sock_chan *s = (struct sock_chan *)ch;

	pthread_mutex_lock(&s->send_lock);
	s->stopping = true;
	pthread_mutex_unlock(&s->send_lock);
	if (s->started) {
		wake(s);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

static void sock_destroy(struct fuse_chan *ch)
{
	struct sock_chan *s = (struct sock_chan *)ch;

	sock_stop(ch);
	close(s->wake_fd);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
}

static const struct fuse_chan_ops sock_ops = {
	.start = sock_start,
	.kick = sock_kick,
	.stop = sock_stop,
	.destroy = sock_destroy,
};

long fuse_socket_grow(int fd, int want)
{
	int v = 0;
	socklen_t len = sizeof(v);

	/* The kernel doubles the value asked for, to allow for overhead. */
	want /= 2;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) || v <= 32)
		return 0;
	return (long)v - 32;
}

int fuse_chan_socket_new(int fd, struct fuse_chan **out)
{
	struct sock_chan *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->base.ops = &sock_ops;
	s->fd = fd;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		int err = -errno;

		close(fd);
		free(s);
		return err;
	}
	pthread_mutex_init(&s->send_lock, NULL);
	*out = &s->base;
	return 0;
}
