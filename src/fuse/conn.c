/*
 * conn.c - the request lifecycle of one FUSE connection.
 *
 * A request is admitted (after INIT, when the in-flight table has room),
 * queued for the transport, sent, and completed by its reply, by an abort,
 * or - for FORGET - by being sent. Replies are checked here, once, against
 * what the request allows; an op then checks its own payload (validate.c).
 *
 * Replies are read by the holder of the receive token (wait_leading):
 * a sync caller reads its own, else the transport's thread.
 *
 * Never do here: hold conn->lock while blocked on the server, or call a
 * request's done callback with the lock held (callbacks may take VFS
 * locks, and the VFS calls in here).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse/conn.h"
#include "fuse/ops.h"

static struct fuse_req **bucket(struct fuse_conn *c, uint64_t unique)
{
	return &c->inflight[(unique >> 1) % FUSE_INFLIGHT_BUCKETS];
}

static void hash_add(struct fuse_conn *c, struct fuse_req *req)
{
	struct fuse_req **b = bucket(c, req->in.unique);

	req->hnext = *b;
	*b = req;
}

/* Take the request a reply is for. Only a sent request can be answered:
 * a hostile server guessing the unique of a queued one is refused. */
static struct fuse_req *hash_take_sent(struct fuse_conn *c, uint64_t unique)
{
	struct fuse_req **p;

	for (p = bucket(c, unique); *p; p = &(*p)->hnext) {
		if ((*p)->in.unique == unique && (*p)->state == REQ_SENT) {
			struct fuse_req *req = *p;
			*p = req->hnext;
			req->hnext = NULL;
			return req;
		}
	}
	return NULL;
}

static void list_push(struct fuse_req **head, struct fuse_req **tail,
		      struct fuse_req *req)
{
	req->next = NULL;
	if (*tail)
		(*tail)->next = req;
	else
		*head = req;
	*tail = req;
}

static struct fuse_req *list_pop(struct fuse_req **head,
				 struct fuse_req **tail)
{
	struct fuse_req *req = *head;

	if (req) {
		*head = req->next;
		if (!*head)
			*tail = NULL;
		req->next = NULL;
	}
	return req;
}

void fuse_req_init(struct fuse_req *req, uint32_t opcode, uint64_t nodeid,
		   const struct fuse_caller *who)
{
	memset(req, 0, sizeof(*req));
	req->in.opcode = opcode;
	req->in.nodeid = nodeid;
	if (who) {
		req->in.uid = fuse_caller_ids(who)->uid;
		req->in.gid = fuse_caller_ids(who)->gid;
		req->in.pid = fuse_caller_ids(who)->pid;
	}
	pthread_cond_init(&req->cv, NULL);
}

void fuse_req_in(struct fuse_req *req, const void *p, size_t n)
{
	req->in_args[req->n_in].iov_base = (void *)p;
	req->in_args[req->n_in].iov_len = n;
	req->n_in++;
}

void fuse_req_out(struct fuse_req *req, void *p, size_t n)
{
	req->out_args[req->n_out].iov_base = p;
	req->out_args[req->n_out].iov_len = n;
	req->n_out++;
	req->out_min += n;
}

/* Requests completed under the lock whose callbacks run after it. */
struct done_list {
	struct fuse_req *head, *tail;
};

static void run_done(struct done_list *dl)
{
	struct fuse_req *req;

	while ((req = list_pop(&dl->head, &dl->tail))) {
		pthread_cond_destroy(&req->cv);
		req->done(req);
	}
}

static void flush_bg(struct fuse_conn *c);

/* Called with the lock held; req is out of the hash and every queue. */
static void finish(struct fuse_conn *c, struct fuse_req *req, int err,
		   struct done_list *dl)
{
	bool counted = req->state == REQ_QUEUED || req->state == REQ_SENT;

	req->error = err;
	req->state = REQ_DONE;
	if (counted && !req->noreply) {
		c->n_inflight--;
		if (req->background)
			c->n_background--;
		pthread_cond_signal(&c->full_cv);
	}
	if (req->sending)
		return; /* fuse_conn_sent() completes it */
	if (req->done)
		list_push(&dl->head, &dl->tail, req);
	else
		pthread_cond_broadcast(&req->cv);
	flush_bg(c);
}

static void enqueue(struct fuse_conn *c, struct fuse_req *req)
{
	if (req->interrupts) {
		/* Linux's rule: the interrupted request's unique, odd. */
		req->in.unique = req->interrupts | 1;
	} else {
		req->in.unique = c->next_unique;
		c->next_unique += 2; /* odd uniques are left for INTERRUPT */
	}
	hash_add(c, req);
	c->n_inflight++;
	req->state = REQ_QUEUED;
	list_push(&c->queue_head, &c->queue_tail, req);
}

static void flush_bg(struct fuse_conn *c)
{
	while (c->state == CONN_READY && c->bg_head &&
	       c->n_background < c->lim.max_background &&
	       c->n_inflight < c->params.max_inflight) {
		struct fuse_req *req = list_pop(&c->bg_head, &c->bg_tail);

		c->n_background++;
		enqueue(c, req);
	}
}

static int state_error(struct fuse_conn *c)
{
	switch (c->state) {
	case CONN_REFUSED:
		return -ECONNREFUSED;
	case CONN_DEAD:
		return -ENOTCONN;
	default:
		return 0;
	}
}

static void fill_len(struct fuse_req *req)
{
	size_t len = sizeof(req->in);

	for (int i = 0; i < req->n_in; i++)
		len += req->in_args[i].iov_len;
	req->in.len = (uint32_t)len;
}

/* Admit a request into the queues; with the lock held. Sync callers may
 * wait here for INIT and for room in the in-flight table. */
static int admit(struct fuse_conn *c, struct fuse_req *req)
{
	fill_len(req);
	if (req->noreply) {
		if (c->state != CONN_READY)
			return state_error(c) ? state_error(c) : -ENOTCONN;
		req->state = REQ_QUEUED;
		list_push(&c->queue_head, &c->queue_tail, req);
		return 0;
	}
	if (req->background) {
		/* Never blocks: close() must not wait for a slow server. */
		if (state_error(c))
			return state_error(c);
		req->state = REQ_WAIT_BG;
		list_push(&c->bg_head, &c->bg_tail, req);
		flush_bg(c);
		return 0;
	}
	while (!req->before_init && c->state == CONN_INIT_WAIT)
		pthread_cond_wait(&c->init_cv, &c->lock);
	for (;;) {
		if (state_error(c))
			return state_error(c);
		if (c->n_inflight < c->params.max_inflight)
			break;
		pthread_cond_wait(&c->full_cv, &c->lock);
	}
	enqueue(c, req);
	return 0;
}

static __thread const struct fuse_waiter *waiter;

/* Whether this thread, waiting for req, may read the socket itself: no
 * signal can call it away (no waiter) and the transport allows it. */
static bool can_lead(struct fuse_conn *c)
{
	return !waiter && c->chan->ops->recv_one;
}

/* lead: the caller waits for req right after (fuse_send_sync); it takes
 * the free receive token before sending, so that the transport's thread
 * is not woken by a reply that comes before the caller waits. */
static int submit(struct fuse_conn *c, struct fuse_req *req, bool lead)
{
	int err;

	fuse_waiter_block(); /* admit() waits for INIT and for room */
	pthread_mutex_lock(&c->lock);
	err = admit(c, req);
	if (err) {
		req->error = err;
		req->state = REQ_DONE;
	}
	lead = lead && !err && !c->rx_leader && !c->rx_transport &&
	       !c->rx_dead;
	if (lead)
		c->rx_leader = req;
	pthread_mutex_unlock(&c->lock);
	if (lead)
		c->chan->ops->watch(c->chan, false);
	if (!err)
		c->chan->ops->kick(c->chan);
	return err;
}

int fuse_submit(struct fuse_conn *c, struct fuse_req *req)
{
	return submit(c, req, false);
}

void fuse_set_waiter(const struct fuse_waiter *w)
{
	waiter = w;
}

void fuse_waiter_block(void)
{
	if (waiter && waiter->block)
		waiter->block(waiter->ctx);
}

bool fuse_has_waiter(void)
{
	return waiter != NULL;
}

bool fuse_caller_gone(void)
{
	return waiter && waiter->gone(waiter->ctx);
}

#define WAITER_POLL_NS (10 * 1000 * 1000)

/* Wait, asking the waiter now and then whether its caller is gone. Once
 * it is, the server is sent FUSE_INTERRUPT as soon as it has the request;
 * its answer is still awaited (and then discarded by the caller). */
static void wait_interruptible(struct fuse_conn *c, struct fuse_req *req)
{
	const struct fuse_waiter *w = waiter;
	bool gone = false, sent_interrupt = false;

	while (req->state != REQ_DONE || req->sending) {
		struct timespec ts;
		uint64_t unique;

		if (!w || sent_interrupt) {
			pthread_cond_wait(&req->cv, &c->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WAITER_POLL_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&req->cv, &c->lock, &ts) != ETIMEDOUT)
			continue;
		if (!gone) {
			pthread_mutex_unlock(&c->lock);
			gone = w->gone(w->ctx);
			pthread_mutex_lock(&c->lock);
		}
		if (!gone || req->state != REQ_SENT)
			continue; /* not yet with the server: nothing to stop */
		unique = req->in.unique;
		pthread_mutex_unlock(&c->lock);
		fuse_op_interrupt(c, unique);
		sent_interrupt = true;
		pthread_mutex_lock(&c->lock);
	}
}

/* Give the receive token up, with the lock held: to the first follower
 * not yet answered (its cv wakes it to read), else to nobody; true when
 * nobody holds it now and the transport must watch the socket again. */
static bool rx_give_up(struct fuse_conn *c)
{
	struct fuse_req *f;

	c->rx_transport = false;
	c->rx_leader = NULL;
	while (!c->rx_dead && (f = c->rx_followers)) {
		c->rx_followers = f->rx_next;
		f->rx_next = NULL;
		f->rx_follow = false;
		if (f->state != REQ_DONE) {
			c->rx_leader = f;
			pthread_cond_broadcast(&f->cv);
			return false;
		}
	}
	if (c->rx_dead)
		pthread_cond_broadcast(&c->rx_cv);
	return true;
}

static void rx_follow(struct fuse_conn *c, struct fuse_req *req)
{
	struct fuse_req **p = &c->rx_followers;

	while (*p)
		p = &(*p)->rx_next;
	*p = req;
	req->rx_next = NULL;
	req->rx_follow = true;
}

static void rx_unfollow(struct fuse_conn *c, struct fuse_req *req)
{
	struct fuse_req **p = &c->rx_followers;

	while (*p != req)
		p = &(*p)->rx_next;
	*p = req->rx_next;
	req->rx_next = NULL;
	req->rx_follow = false;
}

/* Wait as leader or follower (a caller no signal can take away, on a
 * transport with recv_one): with the token free, the caller reads the
 * socket itself until its own reply comes, handing on every other
 * message as the transport's thread would; the reply thus wakes the
 * caller directly. With the token held, it waits to be answered or to be
 * handed the token. The token moves only under the lock, so one thread
 * reads at a time; a hung server blocks the leader only on its own
 * request, as it would block it anyway, while every other reply still
 * gets read. */
static void wait_leading(struct fuse_conn *c, struct fuse_req *req)
{
	const struct fuse_chan_ops *ops = c->chan->ops;

	while (req->state != REQ_DONE) {
		if (!c->rx_leader && !c->rx_transport && !c->rx_dead) {
			c->rx_leader = req;
			pthread_mutex_unlock(&c->lock);
			ops->watch(c->chan, false);
			pthread_mutex_lock(&c->lock);
		}
		if (c->rx_leader != req) {
			if (!req->rx_follow)
				rx_follow(c, req);
			pthread_cond_wait(&req->cv, &c->lock);
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		int err = ops->recv_one(c->chan);
		pthread_mutex_lock(&c->lock);
		if (err) {
			/* Aborted (which completes req): read no more. */
			c->rx_dead = true;
			break;
		}
	}
	if (req->rx_follow)
		rx_unfollow(c, req);
	if (c->rx_leader == req && rx_give_up(c)) {
		pthread_mutex_unlock(&c->lock);
		ops->watch(c->chan, true);
		pthread_mutex_lock(&c->lock);
	}
	while (req->state != REQ_DONE || req->sending)
		pthread_cond_wait(&req->cv, &c->lock);
}

bool fuse_conn_rx_begin(struct fuse_conn *c)
{
	bool took;

	pthread_mutex_lock(&c->lock);
	took = !c->rx_leader && !c->rx_transport;
	if (took)
		c->rx_transport = true;
	pthread_mutex_unlock(&c->lock);
	return took;
}

bool fuse_conn_rx_end(struct fuse_conn *c)
{
	bool watch;

	pthread_mutex_lock(&c->lock);
	watch = rx_give_up(c);
	pthread_mutex_unlock(&c->lock);
	return watch;
}

int fuse_wait(struct fuse_conn *c, struct fuse_req *req)
{
	fuse_waiter_block();
	pthread_mutex_lock(&c->lock);
	if (can_lead(c))
		wait_leading(c, req);
	else
		wait_interruptible(c, req);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&req->cv);
	return req->error;
}

int fuse_send_sync(struct fuse_conn *c, struct fuse_req *req)
{
	int err = submit(c, req, can_lead(c));

	if (err) {
		pthread_cond_destroy(&req->cv);
		return err;
	}
	return fuse_wait(c, req);
}

void fuse_send_async(struct fuse_conn *c, struct fuse_req *req)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = admit(c, req);
	pthread_mutex_unlock(&c->lock);
	if (err) {
		req->error = err;
		req->state = REQ_DONE;
		pthread_cond_destroy(&req->cv);
		req->done(req);
		return;
	}
	c->chan->ops->kick(c->chan);
}

struct fuse_req *fuse_conn_next_request(struct fuse_conn *c)
{
	struct fuse_req *req;

	pthread_mutex_lock(&c->lock);
	req = list_pop(&c->queue_head, &c->queue_tail);
	if (req) {
		if (!req->noreply)
			req->state = REQ_SENT;
		req->sending = true;
	}
	pthread_mutex_unlock(&c->lock);
	return req;
}

void fuse_conn_requeue(struct fuse_conn *c, struct fuse_req *req)
{
	struct done_list dl = { 0 };

	pthread_mutex_lock(&c->lock);
	req->sending = false;
	if (req->state == REQ_DONE || (req->noreply && c->state != CONN_READY)) {
		/* Aborted while the transport held it. */
		if (req->noreply) {
			pthread_mutex_unlock(&c->lock);
			pthread_cond_destroy(&req->cv);
			free(req);
			return;
		}
		if (req->done)
			list_push(&dl.head, &dl.tail, req);
		else
			pthread_cond_broadcast(&req->cv);
	} else {
		if (!req->noreply)
			req->state = REQ_QUEUED;
		req->next = c->queue_head;
		c->queue_head = req;
		if (!c->queue_tail)
			c->queue_tail = req;
	}
	pthread_mutex_unlock(&c->lock);
	run_done(&dl);
}

void fuse_conn_sent(struct fuse_conn *c, struct fuse_req *req)
{
	struct done_list dl = { 0 };

	if (req->noreply) {
		pthread_cond_destroy(&req->cv);
		free(req);
		return;
	}
	pthread_mutex_lock(&c->lock);
	req->sending = false;
	if (req->state == REQ_DONE) {
		/* The reply (or an abort) came before send() returned. */
		if (req->done)
			list_push(&dl.head, &dl.tail, req);
		else
			pthread_cond_broadcast(&req->cv);
	}
	pthread_mutex_unlock(&c->lock);
	run_done(&dl);
}

static long discard(fuse_recv_fn recv_into, void *ctx)
{
	return recv_into(ctx, NULL, 0);
}

/* Check a reply against its request; 0 or a reason for the log. */
static const char *check_reply(struct fuse_req *req, long n)
{
	static __thread char why[128];
	size_t payload, cap = 0;

	if ((long)req->out.len != n) {
		snprintf(why, sizeof(why),
			 "header says %u bytes, message has %ld",
			 req->out.len, n);
		return why;
	}
	if (req->out.error > 0 || req->out.error <= -512) {
		snprintf(why, sizeof(why), "error %d outside (-512, 0]",
			 req->out.error);
		return why;
	}
	payload = (size_t)n - sizeof(req->out);
	if (req->out.error && payload) {
		snprintf(why, sizeof(why), "error reply carries %zu bytes",
			 payload);
		return why;
	}
	if (req->out.error)
		return NULL;
	for (int i = 0; i < req->n_out; i++)
		cap += req->out_args[i].iov_len;
	if (payload > cap) {
		snprintf(why, sizeof(why),
			 "payload of %zu bytes, at most %zu allowed", payload,
			 cap);
		return why;
	}
	if (payload < req->out_min) {
		snprintf(why, sizeof(why),
			 "payload of %zu bytes, at least %zu needed", payload,
			 req->out_min);
		return why;
	}
	req->out_len = payload;
	return NULL;
}

void fuse_conn_set_notify(struct fuse_conn *c, fuse_notify_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->notify_lock);
	c->notify = fn;
	c->notify_ctx = ctx;
	pthread_mutex_unlock(&c->notify_lock);
}

/* Notifications larger than this (a STORE of more file data) are
 * dropped with a log line rather than buffered. */
#define NOTIFY_MAX (1024 * 1024 + 4096)

static void receive_notify(struct fuse_conn *c,
			   const struct fuse_out_header *peek, long msg_len,
			   fuse_recv_fn recv_into, void *ctx)
{
	struct fuse_out_header h;
	struct iovec iov[2];
	void *buf;
	long n;

	if (msg_len > (long)(sizeof(h) + NOTIFY_MAX) ||
	    !(buf = malloc((size_t)msg_len))) {
		discard(recv_into, ctx);
		fuse_log_bad(c, "notification %d of %ld bytes dropped",
			     peek->error, msg_len);
		return;
	}
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = buf;
	iov[1].iov_len = (size_t)msg_len - sizeof(h);
	n = recv_into(ctx, iov, 2);
	if (n == msg_len && (long)h.len == n) {
		if (c->params.debug)
			fprintf(stderr, "fusebox: <- notification %d, %ld bytes\n",
				h.error, n - (long)sizeof(h));
		pthread_mutex_lock(&c->notify_lock);
		if (c->notify)
			c->notify(c->notify_ctx, h.error, buf,
				  (size_t)n - sizeof(h));
		pthread_mutex_unlock(&c->notify_lock);
	} else if (n >= 0) {
		fuse_log_bad(c, "notification %d: length %u, message %ld bytes",
			     h.error, h.len, n);
	}
	free(buf);
}

void fuse_conn_receive(struct fuse_conn *c, const struct fuse_out_header *peek,
		       long msg_len, fuse_recv_fn recv_into, void *ctx)
{
	struct done_list dl = { 0 };
	struct iovec iov[1 + FUSE_MAX_OUT_ARGS];
	struct fuse_req *req;
	const char *why;
	bool dead;
	long n;
	int err;

	if (msg_len < (long)sizeof(*peek)) {
		discard(recv_into, ctx);
		fuse_log_bad(c, "message of %ld bytes, shorter than a header",
			     msg_len);
		return;
	}
	if (peek->unique == 0) {
		receive_notify(c, peek, msg_len, recv_into, ctx);
		return;
	}
	pthread_mutex_lock(&c->lock);
	req = hash_take_sent(c, peek->unique);
	dead = c->state == CONN_DEAD;
	pthread_mutex_unlock(&c->lock);
	if (!req) {
		discard(recv_into, ctx);
		/* After an abort, late replies are expected, not hostile;
		 * so are answers to INTERRUPT (EAGAIN: not resent). */
		if (!dead && !(peek->unique & 1))
			fuse_log_bad(c,
				     "reply to unique %llu, which is not in flight",
				     (unsigned long long)peek->unique);
		return;
	}
	/* Out of the hash, req cannot be completed by anyone else. */
	iov[0].iov_base = &req->out;
	iov[0].iov_len = sizeof(req->out);
	for (int i = 0; i < req->n_out; i++)
		iov[1 + i] = req->out_args[i];
	n = recv_into(ctx, iov, 1 + req->n_out);
	if (n < 0) {
		err = -ECONNABORTED;
	} else if ((why = check_reply(req, n))) {
		fuse_log_bad(c, "bad reply to %s (unique %llu): %s",
			     fuse_opcode_name(req->in.opcode),
			     (unsigned long long)req->in.unique, why);
		err = -EIO;
	} else {
		err = req->out.error;
	}
	if (c->params.debug)
		fprintf(stderr, "fusebox: <- %s unique %llu: %d, %zu bytes\n",
			fuse_opcode_name(req->in.opcode),
			(unsigned long long)req->in.unique, err, req->out_len);
	pthread_mutex_lock(&c->lock);
	finish(c, req, err, &dl);
	pthread_mutex_unlock(&c->lock);
	run_done(&dl);
}

void fuse_conn_abort(struct fuse_conn *c, int err, const char *why)
{
	struct done_list dl = { 0 };
	struct fuse_req *req, *noreply = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_DEAD) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (why && !c->error_msg[0])
		snprintf(c->error_msg, sizeof(c->error_msg), "%s", why);
	c->state = CONN_DEAD;
	c->rx_dead = true;
	while ((req = list_pop(&c->queue_head, &c->queue_tail))) {
		if (req->noreply) {
			req->next = noreply;
			noreply = req;
		}
	}
	for (int i = 0; i < FUSE_INFLIGHT_BUCKETS; i++) {
		while ((req = c->inflight[i])) {
			c->inflight[i] = req->hnext;
			finish(c, req, err, &dl);
		}
	}
	while ((req = list_pop(&c->bg_head, &c->bg_tail)))
		finish(c, req, -ENOTCONN, &dl);
	pthread_cond_broadcast(&c->init_cv);
	pthread_cond_broadcast(&c->full_cv);
	pthread_mutex_unlock(&c->lock);
	if (c->chan && c->chan->ops->aborted)
		c->chan->ops->aborted(c->chan); /* wakes a leader reading */
	while ((req = noreply)) {
		noreply = req->next;
		pthread_cond_destroy(&req->cv);
		free(req);
	}
	run_done(&dl);
}

const char *fuse_conn_error(struct fuse_conn *c)
{
	const char *msg;

	pthread_mutex_lock(&c->lock);
	msg = c->state == CONN_READY || c->state == CONN_INIT_WAIT ||
			      !c->error_msg[0]
		      ? NULL
		      : c->error_msg;
	pthread_mutex_unlock(&c->lock);
	return msg;
}

int fuse_conn_wait_init(struct fuse_conn *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	while (c->state == CONN_INIT_WAIT)
		pthread_cond_wait(&c->init_cv, &c->lock);
	err = state_error(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

bool fuse_conn_ready(struct fuse_conn *c)
{
	bool ready;

	pthread_mutex_lock(&c->lock);
	ready = c->state == CONN_READY;
	pthread_mutex_unlock(&c->lock);
	return ready;
}

int fuse_conn_new(struct fuse_chan *chan, const struct fuse_conn_params *p,
		  struct fuse_conn **out)
{
	struct fuse_conn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->notify_lock, NULL);
	pthread_cond_init(&c->init_cv, NULL);
	pthread_cond_init(&c->full_cv, NULL);
	pthread_cond_init(&c->rx_cv, NULL);
	c->params = *p;
	c->chan = chan;
	c->next_unique = 2;
	c->state = CONN_INIT_WAIT;
	err = chan->ops->start(chan, c);
	if (err) {
		c->chan = NULL;
		fuse_conn_free(c);
		return err;
	}
	fuse_init_start(c);
	*out = c;
	return 0;
}

void fuse_conn_free(struct fuse_conn *c)
{
	if (c->chan) {
		fuse_conn_abort(c, -ECONNABORTED, "connection closed");
		/* A leader may still be leaving recv_one: the socket stays
		 * open until it has. */
		pthread_mutex_lock(&c->lock);
		while (c->rx_leader)
			pthread_cond_wait(&c->rx_cv, &c->lock);
		pthread_mutex_unlock(&c->lock);
		c->chan->ops->stop(c->chan);
		c->chan->ops->destroy(c->chan);
	}
	pthread_cond_destroy(&c->init_cv);
	pthread_cond_destroy(&c->full_cv);
	pthread_cond_destroy(&c->rx_cv);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->notify_lock);
	free(c);
}
