/*
 * conn.h - one FUSE connection: INIT state, the request queues and the
 * table of requests in flight.
 *
 * The seed's queues map here as:
 *   initializedChan -> requests wait on init_cv until INIT settles;
 *   fd.completions  -> inflight hash, keyed by unique, bounded by
 *                      max_inflight (it holds queued and sent requests);
 *   fd.queue        -> queue: requests not yet taken by the transport;
 *   fd.fullQueueCh  -> full_cv: callers wait there while inflight is full;
 *   background      -> bg_queue: async requests beyond max_background.
 *
 * Lock: conn->lock guards everything in struct fuse_conn and the state of
 * every request. It is never held while waiting for the server.
 */
#ifndef FUSEBOX_FUSE_CONN_H
#define FUSEBOX_FUSE_CONN_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fuse/chan.h"

#define FUSE_MAX_IN_ARGS 3
#define FUSE_MAX_OUT_ARGS 2
#define FUSE_INFLIGHT_BUCKETS 256

enum fuse_req_state {
	REQ_NEW,
	REQ_WAIT_BG,	/* on bg_queue */
	REQ_QUEUED,	/* on queue, not yet sent */
	REQ_SENT,	/* sent, waiting for the reply */
	REQ_DONE,
};

struct fuse_req;
typedef void (*fuse_req_done_fn)(struct fuse_req *req);

/* Who asked: copied into fuse_in_header as the kernel would. */
#define FUSE_CALLER_GROUPS 64
struct fuse_caller {
	uint32_t uid, gid, pid;
	uint32_t umask;	/* sent with requests that create (DONT_MASK) */
	/* Supplementary groups, for fusebox's own permission checks (the
	 * protocol carries none): -1 = not read yet, read on first need
	 * from /proc/PID/status (vfs_in_group); 0 (a zeroed caller) =
	 * none. */
	int ngroups;
	uint32_t groups[FUSE_CALLER_GROUPS];
	/* Non-NULL: uid, gid and pid are not read yet; fuse_caller_ids()
	 * has this fill them on first need, on the calling thread, during
	 * the call (libfusebox: a cached stat needs none of them). */
	void (*fill)(struct fuse_caller *who);
};

/* who with uid, gid and pid read. The caller is the one making the call,
 * on its own thread: filling it in place changes no identity. */
static inline const struct fuse_caller *
fuse_caller_ids(const struct fuse_caller *who)
{
	if (__builtin_expect(who->fill != NULL, 0)) {
		struct fuse_caller *w = (struct fuse_caller *)who;

		w->fill(w);
		w->fill = NULL;
	}
	return who;
}

struct fuse_req {
	struct fuse_in_header in;
	struct iovec in_args[FUSE_MAX_IN_ARGS];
	int n_in;
	/* Reply payload goes straight into these buffers. */
	struct iovec out_args[FUSE_MAX_OUT_ARGS];
	int n_out;
	/* Fewest payload bytes a success reply may carry (the rest of the
	 * out args may be cut short, as for READ). */
	size_t out_min;

	struct fuse_out_header out;
	size_t out_len;		/* payload bytes received */
	int error;		/* 0 or negative errno: the result */

	enum fuse_req_state state;
	bool noreply;		/* FORGET: done once sent */
	uint64_t interrupts;	/* INTERRUPT: the unique it interrupts */
	bool background;	/* counts against max_background */
	bool before_init;	/* INIT itself: does not wait for INIT */
	bool sending;		/* the transport holds it right now */
	fuse_req_done_fn done;	/* async: called once, then owns req */
	void *priv;
	pthread_cond_t cv;	/* sync callers wait here */
	struct fuse_req *next;	/* queue / bg_queue link */
	struct fuse_req *hnext;	/* inflight hash link */
	/* A sync caller waiting for the receive token (conn->rx_followers). */
	bool rx_follow;
	struct fuse_req *rx_next;
};

enum fuse_conn_state {
	CONN_INIT_WAIT,	/* INIT sent, no reply yet */
	CONN_READY,
	CONN_REFUSED,	/* INIT failed: requests get -ECONNREFUSED */
	CONN_DEAD,	/* aborted or server gone: -ENOTCONN */
};

struct fuse_conn_params {
	uint32_t max_read;	/* mount option; 0 = none */
	uint32_t max_pages_limit;
	uint32_t max_inflight;
	int debug;
	bool no_writeback;	/* do not offer FUSE_WRITEBACK_CACHE */
};

/* Settled by INIT (init.c). */
struct fuse_conn_limits {
	uint32_t major, minor;
	uint64_t flags;
	uint32_t max_write, max_read, max_readahead, max_pages;
	uint32_t max_background, congestion_threshold, time_gran;
	uint32_t name_max;
};

/* A notification from the server (unique 0): code is FUSE_NOTIFY_*, msg
 * the payload after the header. Runs on the receiving thread (whoever
 * holds the receive token: the transport's thread or a caller waiting for
 * its own reply): it must never wait for the server. */
typedef void (*fuse_notify_fn)(void *ctx, int code, const void *msg,
			       size_t len);

struct fuse_conn {
	pthread_mutex_t lock;
	/* Guards notify/notify_ctx and is held while one runs, so that
	 * clearing them waits for a running notification. */
	pthread_mutex_t notify_lock;
	fuse_notify_fn notify;
	void *notify_ctx;
	enum fuse_conn_state state;
	char error_msg[256];
	pthread_cond_t init_cv;
	pthread_cond_t full_cv;
	struct fuse_conn_params params;
	struct fuse_conn_limits lim;
	struct fuse_chan *chan;

	uint64_t next_unique;
	struct fuse_req *inflight[FUSE_INFLIGHT_BUCKETS];
	uint32_t n_inflight;
	struct fuse_req *queue_head, *queue_tail;
	struct fuse_req *bg_head, *bg_tail;
	uint32_t n_background;	/* background requests past bg_queue */

	/* Ops the server answered ENOSYS to, as the kernel remembers them. */
	bool no_open, no_opendir, no_access, no_flush, no_getxattr,
	     no_listxattr, no_lseek, no_readdirplus, no_create, no_tmpfile,
	     no_rename2, no_setxattr, no_removexattr, no_fsync, no_fsyncdir,
	     no_syncfs, no_fallocate, no_copy_file_range, no_poll;

	struct fuse_init_in init_in;
	struct fuse_init_out init_out;
	struct fuse_req *init_req;

	/* The receive token (transports with recv_one): at most one thread
	 * reads the socket. Held by the transport's thread (rx_transport),
	 * by the sync caller whose request is rx_leader, or free - and then
	 * the transport's thread watches the socket. A caller that finds it
	 * held waits on its request's cv in rx_followers; whoever gives the
	 * token up hands it to the first of those not yet answered. */
	bool rx_transport;
	bool rx_dead;	/* aborted: no caller takes the token again */
	struct fuse_req *rx_leader;
	struct fuse_req *rx_followers;
	pthread_cond_t rx_cv;	/* rx_leader gone, after an abort */
};

int fuse_conn_new(struct fuse_chan *chan, const struct fuse_conn_params *p,
		  struct fuse_conn **out);
/* Abort (if still alive), stop the transport and free everything. */
void fuse_conn_free(struct fuse_conn *c);

/* Fail every request in flight with err (-ECONNABORTED), later ones with
 * -ENOTCONN. why goes to fuse_conn_error(). */
void fuse_conn_abort(struct fuse_conn *c, int err, const char *why);
const char *fuse_conn_error(struct fuse_conn *c);
int fuse_conn_wait_init(struct fuse_conn *c);
/* Route notifications to fn (NULL: drop them). Returns once no call of
 * the previous fn is running. */
void fuse_conn_set_notify(struct fuse_conn *c, fuse_notify_fn fn, void *ctx);
/* True once INIT succeeded and the connection is still up. */
bool fuse_conn_ready(struct fuse_conn *c);

/* Set up a request. */
void fuse_req_init(struct fuse_req *req, uint32_t opcode, uint64_t nodeid,
		   const struct fuse_caller *who);
void fuse_req_in(struct fuse_req *req, const void *p, size_t n);
void fuse_req_out(struct fuse_req *req, void *p, size_t n);

/* Send and wait for the reply; returns req->error. No lock is held while
 * waiting. */
int fuse_send_sync(struct fuse_conn *c, struct fuse_req *req);

/* Who is waiting for a reply, for FUSE_INTERRUPT: a thread that sets
 * this is asked every few milliseconds while it waits whether its caller
 * has gone (a signal); if so the request gets one INTERRUPT, as Linux
 * sends when a task waiting on FUSE is signalled, and the wait goes on
 * until the server answers. */
struct fuse_waiter {
	bool (*gone)(void *ctx);
	/* Called (when set) before the thread may wait: for a reply, a
	 * lock, another thread. The sandbox hands its listener on. */
	void (*block)(void *ctx);
	void *ctx;
};
void fuse_set_waiter(const struct fuse_waiter *w);
/* Tell this thread's waiter that the thread is about to wait. */
void fuse_waiter_block(void);
/* Whether this thread's waiter says its caller is gone (false without
 * one): for waits that are not requests, such as a blocking lock. */
bool fuse_caller_gone(void);
/* Whether this thread serves a caller that can go (a sandboxed call). */
bool fuse_has_waiter(void);
/* Send a heap request whose completion runs req->done (which frees it). */
void fuse_send_async(struct fuse_conn *c, struct fuse_req *req);
/* Send without waiting; then fuse_wait() once. For pipelined READs. */
int fuse_submit(struct fuse_conn *c, struct fuse_req *req);
int fuse_wait(struct fuse_conn *c, struct fuse_req *req);

/* For transports. */
struct fuse_req *fuse_conn_next_request(struct fuse_conn *c);
void fuse_conn_requeue(struct fuse_conn *c, struct fuse_req *req);
void fuse_conn_sent(struct fuse_conn *c, struct fuse_req *req);
/* The transport's thread takes the receive token before it reads a
 * message (false: a caller holds it, read nothing) and gives it back
 * after (true: nobody holds it now, watch the socket again). */
bool fuse_conn_rx_begin(struct fuse_conn *c);
bool fuse_conn_rx_end(struct fuse_conn *c);
/* Deliver one message from the server. recv_into(ctx, iov, n) reads the
 * message into iov and returns its full length (even if longer), or a
 * negative errno. */
typedef long (*fuse_recv_fn)(void *ctx, const struct iovec *iov, int n);
void fuse_conn_receive(struct fuse_conn *c, const struct fuse_out_header *peek,
		       long msg_len, fuse_recv_fn recv_into, void *ctx);

/* init.c */
void fuse_init_start(struct fuse_conn *c);

/* log.c: one line per event, rate limited so a hostile server cannot
 * flood the log. */
void fuse_log_bad(struct fuse_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *fuse_opcode_name(uint32_t opcode);

#endif
