/*
 * chan.h - the transport between fusebox and one FUSE server.
 *
 * The connection (conn.c) owns the request queues; a transport only moves
 * bytes. It pulls requests with fuse_conn_next_request(), writes each as
 * one message, and hands every message that comes back to
 * fuse_conn_receive(). The socketpair transport (chan_socket.c) does this
 * with a thread; the sandbox's emulated /dev/fuse will do it from the
 * server's trapped read(2)/write(2) calls instead.
 *
 * A transport may also let a caller waiting for a reply read the socket
 * itself (recv_one, watch, aborted; conn.c's receive token): the reply
 * then wakes the caller directly, not a thread that wakes the caller.
 */
#ifndef FUSEBOX_FUSE_CHAN_H
#define FUSEBOX_FUSE_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_conn;
struct fuse_chan;

struct fuse_chan_ops {
	/* Start moving requests and replies for conn. */
	int (*start)(struct fuse_chan *ch, struct fuse_conn *conn);
	/* New requests are queued: send them as soon as possible. Called
	 * with no connection lock held; must not block on the server. */
	void (*kick)(struct fuse_chan *ch);
	/* Stop: no more sends; the server sees its channel closed. Waits
	 * for the transport's threads to end. */
	void (*stop)(struct fuse_chan *ch);
	void (*destroy)(struct fuse_chan *ch);

	/* Optional, all three or none. */
	/* Called by the holder of the connection's receive token: block
	 * until one message comes, hand it to fuse_conn_receive() and send
	 * what that queued. 0, or -ENOTCONN once the connection is aborted
	 * or the server is gone. */
	int (*recv_one)(struct fuse_chan *ch);
	/* Whether the transport's own thread watches for messages: off
	 * while a caller holds the token, on once nobody does. */
	void (*watch)(struct fuse_chan *ch, bool on);
	/* The connection is aborted: wake every caller in recv_one, now and
	 * later. */
	void (*aborted)(struct fuse_chan *ch);
};

struct fuse_chan {
	const struct fuse_chan_ops *ops;
};

/* Transport over a SOCK_SEQPACKET socket; takes ownership of fd. */
int fuse_chan_socket_new(int fd, struct fuse_chan **out);
/* A message larger than its sender's SO_SNDBUF (less 32 bytes) cannot be
 * sent at all: ask for want bytes (beyond wmem_max where allowed) and
 * return the largest message fd can send now. */
long fuse_socket_grow(int fd, int want);

#endif
