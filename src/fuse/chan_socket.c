/*
 * chan_socket.c - the transport over a SOCK_SEQPACKET socket: one message
 * per request and per reply, as on /dev/fuse.
 *
 * Callers send their own requests (kick) without blocking; when the
 * socket is full, the I/O thread waits for room and sends the rest.
 * Messages are read by whoever holds the connection's receive token
 * (conn.c): a caller waiting for its reply (recv_one), else the I/O
 * thread, which watches the socket only while nobody holds the token
 * (an EPOLLONESHOT watch, so it sleeps through messages a caller reads).
 * The reader peeks at the header, and the connection then reads the
 * message straight into the request's buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "fuse/conn.h"

struct sock_chan {
	struct fuse_chan base;
	int fd;
	int out_fd;	/* fd dup'ed: its own epoll watch, for room to send */
	int wake_fd;	/* stop the I/O thread */
	int abort_fd;	/* readable once the connection is aborted */
	int epfd;	/* the I/O thread's: wake_fd, fd, out_fd */
	struct fuse_conn *conn;
	pthread_t thread;
	bool started;
	pthread_mutex_t send_lock;
	bool want_out;	/* the socket was full: the I/O thread sends */
	bool stopping;
};

enum { EV_WAKE, EV_IN, EV_OUT };

static void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0) {
		/* The counter is non-zero already: the thread will wake. */
	}
}

/* One-shot watches: an event disables its watch until it is set again.
 * Off is one-shot too, so a hang-up (which epoll always reports) wakes
 * the I/O thread at most once while a caller reads. */
static void watch_fd(struct sock_chan *s, int fd, int ev, uint32_t events)
{
	struct epoll_event e = { .events = events | EPOLLONESHOT,
				 .data.u32 = (uint32_t)ev };

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &e);
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
			watch_fd(s, s->out_fd, EV_OUT, EPOLLOUT);
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

/* Read one message, with the receive token held: hand it to the
 * connection, then send what its completion queued (replies free slots,
 * and background requests move up). hup: the socket said it hung up.
 * -ENOTCONN once the server is gone. */
static int receive(struct sock_chan *s, bool hup)
{
	struct fuse_out_header oh;
	ssize_t n;

	memset(&oh, 0, sizeof(oh));
	n = recv(s->fd, &oh, sizeof(oh), MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 || (n == 0 && hup)) {
		fuse_conn_abort(s->conn, -ECONNABORTED,
				"the server closed its channel");
		return -ENOTCONN;
	}
	fuse_conn_receive(s->conn, &oh, n, sock_recv_into, s);
	sock_kick(&s->base);
	return 0;
}

static void *io_thread(void *arg)
{
	struct sock_chan *s = arg;

	for (;;) {
		struct epoll_event ev[3];
		int n = epoll_wait(s->epfd, ev, 3, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t e = ev[i].events;

			switch (ev[i].data.u32) {
			case EV_WAKE: {
				uint64_t v;

				if (read(s->wake_fd, &v, sizeof(v)) < 0) {
					/* A spurious wake-up. */
				}
				pthread_mutex_lock(&s->send_lock);
				bool stop = s->stopping;
				pthread_mutex_unlock(&s->send_lock);
				if (stop)
					return NULL;
				break;
			}
			case EV_OUT:
				pthread_mutex_lock(&s->send_lock);
				s->want_out = false;
				pthread_mutex_unlock(&s->send_lock);
				sock_kick(&s->base);
				break;
			case EV_IN:
				/* A caller holding the token reads instead;
				 * it watches again when it gives it up. */
				if (!fuse_conn_rx_begin(s->conn))
					break;
				int err = receive(s, e & (EPOLLHUP | EPOLLERR));
				if (fuse_conn_rx_end(s->conn) && !err)
					watch_fd(s, s->fd, EV_IN, EPOLLIN);
				if (err)
					return NULL;
				break;
			}
		}
	}
	return NULL;
}

static int sock_recv_one(struct fuse_chan *ch)
{
	struct sock_chan *s = (struct sock_chan *)ch;
	struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
			       { .fd = s->abort_fd, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ENOTCONN;
		if (p[0].revents)
			return receive(s, p[0].revents & (POLLHUP | POLLERR));
	}
}

static void sock_watch(struct fuse_chan *ch, bool on)
{
	struct sock_chan *s = (struct sock_chan *)ch;

	watch_fd(s, s->fd, EV_IN, on ? EPOLLIN : 0);
}

static void sock_aborted(struct fuse_chan *ch)
{
	wake(((struct sock_chan *)ch)->abort_fd); /* never read: stays set */
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
		wake(s->wake_fd);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	if (s->fd >= 0) {
		close(s->out_fd);
		close(s->fd);
		s->fd = -1;
	}
}

static void sock_destroy(struct fuse_chan *ch)
{
	struct sock_chan *s = (struct sock_chan *)ch;

	sock_stop(ch);
	close(s->wake_fd);
	close(s->abort_fd);
	close(s->epfd);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
}

static const struct fuse_chan_ops sock_ops = {
	.start = sock_start,
	.kick = sock_kick,
	.stop = sock_stop,
	.destroy = sock_destroy,
	.recv_one = sock_recv_one,
	.watch = sock_watch,
	.aborted = sock_aborted,
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

static int add_watches(struct sock_chan *s)
{
	struct epoll_event w = { .events = EPOLLIN, .data.u32 = EV_WAKE },
			   in = { .events = EPOLLIN | EPOLLONESHOT,
				  .data.u32 = EV_IN },
			   out = { .events = EPOLLONESHOT, .data.u32 = EV_OUT };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &w) ||
	       epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->fd, &in) ||
	       epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->out_fd, &out);
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
	s->out_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->out_fd < 0 || s->wake_fd < 0 || s->abort_fd < 0 || s->epfd < 0 ||
	    add_watches(s)) {
		int err = -errno;

		int fds[] = { s->out_fd, s->wake_fd, s->abort_fd, s->epfd, fd };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(s);
		return err;
	}
	pthread_mutex_init(&s->send_lock, NULL);
	*out = &s->base;
	return 0;
}
