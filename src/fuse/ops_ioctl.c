/*
 * ops_ioctl.c - the FUSE_IOCTL and FUSE_POLL requests. As in ops.c, each
 * function is the request's shape and the checks only it can make; which
 * commands reach the server and how poll waits are the VFS's business
 * (src/vfs/ioctl.c, poll.c).
 *
 * IOCTL goes in restricted form only, as Linux sends it for every file of
 * a FUSE mount: the sizes come from the command's _IOC encoding and the
 * data travels inside the request and the reply. The unrestricted form
 * (FUSE_IOCTL_UNRESTRICTED, where the server names the caller's memory in
 * iovecs and asks to RETRY) is what Linux uses for CUSE character devices
 * only; fusebox never sends it, and a RETRY answer is EIO, as in Linux.
 */
#include <errno.h>
#include <string.h>

#include "fuse/ops.h"

long fuse_op_ioctl(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, struct fuse_ioctl_args *a)
{
	struct fuse_ioctl_in in = { .fh = a->fh, .flags = a->flags,
				    .cmd = a->cmd, .arg = a->arg,
				    .in_size = a->in_size,
				    .out_size = a->out_size };
	struct fuse_ioctl_out out = { 0 };
	struct fuse_req req;
	int err;

	a->out_len = 0;
	fuse_req_init(&req, FUSE_IOCTL, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	if (a->in_size)
		fuse_req_in(&req, a->in, a->in_size);
	fuse_req_out(&req, &out, sizeof(out));
	if (a->out_size)
		fuse_req_out(&req, a->out, a->out_size);
	/* The data may come back short; more than out_size is refused
	 * by conn.c (EIO, as Linux's "transferred > out_size"). */
	req.out_min = sizeof(out);
	err = fuse_send_sync(c, &req);
	/* Not remembered, unlike other ENOSYS answers: libfuse's
	 * high-level library turns a handler's -ENOSYS for one command
	 * into this same answer, so it says nothing about the others. */
	if (err == -ENOSYS)
		return -ENOTTY;
	if (err)
		return err;
	if (out.flags & FUSE_IOCTL_RETRY) {
		fuse_log_bad(c, "bad reply to IOCTL: RETRY for a restricted "
				"ioctl (cmd 0x%x)", a->cmd);
		return -EIO;
	}
	a->out_len = (uint32_t)(req.out_len - sizeof(out));
	/* Linux (6.x) passes ENOSYS on as ENOTTY here too. */
	return out.result == -ENOSYS ? -ENOTTY : out.result;
}

int fuse_op_poll(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, uint64_t fh, uint64_t kh, bool notify,
		 uint32_t events, uint32_t *revents)
{
	struct fuse_poll_in in = {
		.fh = fh, .kh = kh, .events = events,
		.flags = notify ? FUSE_POLL_SCHEDULE_NOTIFY : 0 };
	struct fuse_poll_out out = { 0 };
	struct fuse_req req;
	int err;

	if (__atomic_load_n(&c->no_poll, __ATOMIC_RELAXED))
		return -ENOSYS;
	fuse_req_init(&req, FUSE_POLL, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, &out, sizeof(out));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS)
		__atomic_store_n(&c->no_poll, true, __ATOMIC_RELAXED);
	if (!err)
		*revents = out.revents;
	return err;
}
