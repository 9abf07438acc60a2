/*
 * ptrace.c - run a trapped execve/execveat again with other arguments.
 *
 * seccomp lets the supervisor answer a trapped call or let it through
 * unchanged, never change its arguments. When an exec needs a path the
 * caller's memory does not hold (a relative "./tool" is too short to be
 * overwritten with "/dev/fd/N"), or a new argv (a script run through its
 * interpreter), the calling thread is traced for the moment it takes:
 *
 *  1. PTRACE_SEIZE (the thread does not stop), then PTRACE_INTERRUPT,
 *     which the thread, asleep in the trapped call, notices only on its
 *     way back to user mode;
 *  2. the call is answered -ERESTARTNOINTR: the kernel's "run this
 *     syscall again", done on that same way out (regs->ax = orig_ax,
 *     ip back over the syscall instruction) once the thread's signal
 *     work is over;
 *  3. first the thread stops for the interrupt (PTRACE_EVENT_STOP): the
 *     new strings and argv array are written below its stack pointer,
 *     the argument registers pointed at them, and the thread detached;
 *  4. it runs the syscall again, which is trapped again, now with a path
 *     the kernel can open, and let through.
 *
 * A handler for a signal that is pending at the stop would run before
 * the restart, on the very stack below the stack pointer; then nothing
 * is changed and the call restarts as it was, to be trapped and handled
 * anew after the handler. (A signal arriving in the microseconds between
 * the check and the thread's return to user mode can still clobber the
 * strings: they are written 64 KiB below the stack pointer when the
 * stack mapping has room, to stay clear of a signal frame.)
 *
 * Waiting for the stop: a tracer's stops are reported to waits of its
 * whole thread group, so run.c's waitpid(-1) may take it first and
 * hands it over (sbx_trace_status). The tracer's own wait asks for stops
 * only (waitid WSTOPPED), never taking an exit that belongs to run.c.
 *
 * Only x86_64 is done; elsewhere sbx_trace_begin gives -ENOSYS.
 *
 * Locking: trace_lock, a leaf, guards the table of traced threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* The kernel's "restart the syscall, whatever the signal handler's
 * SA_RESTART says" (include/linux/errno.h: not in the uapi headers). */
#define SBX_ERESTARTNOINTR 513

#define MAX_TRACED 64
/* Below the red zone, and clear of a signal frame when there is room. */
#define RED_ZONE 128
#define STACK_GAP (64 * 1024)
/* argv arrays longer than this are not copied (ARG_MAX keeps real ones
 * far below). */
#define MAX_ARGV (1 << 20)

struct traced {
	pid_t tid;		/* 0: a free slot */
	bool stopped;		/* a stop was reported to run.c's wait */
	bool gone;		/* its exit was */
};

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trace_cv = PTHREAD_COND_INITIALIZER;
static struct traced table[MAX_TRACED];
static unsigned n_traced;	/* read without the lock as a hint */

static struct traced *slot_of(pid_t tid)
{
	for (unsigned i = 0; i < MAX_TRACED; i++)
		if (table[i].tid == tid)
			return &table[i];
	return NULL;
}

bool sbx_trace_status(pid_t pid, int status)
{
	struct traced *t;
	bool taken = false;

	if (pid <= 0 || !__atomic_load_n(&n_traced, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&trace_lock);
	t = slot_of(pid);
	if (t && WIFSTOPPED(status)) {
		t->stopped = true;
		taken = true;
	} else if (t) {
		t->gone = true; /* and run.c reaps it as usual */
	}
	if (t)
		pthread_cond_broadcast(&trace_cv);
	pthread_mutex_unlock(&trace_lock);
	return taken;
}

#if defined(__x86_64__)

static void slot_free(pid_t tid)
{
	struct traced *t;

	pthread_mutex_lock(&trace_lock);
	t = slot_of(tid);
	if (t) {
		memset(t, 0, sizeof(*t));
		__atomic_sub_fetch(&n_traced, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&trace_lock);
}

int sbx_trace_begin(struct sbx_call *c)
{
	struct traced *t;

	pthread_mutex_lock(&trace_lock);
	t = slot_of(0);
	if (t) {
		t->tid = c->tid;
		__atomic_add_fetch(&n_traced, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&trace_lock);
	if (!t)
		return -EAGAIN;
	if (ptrace(PTRACE_SEIZE, c->tid, NULL, NULL) < 0) {
		int err = -errno;

		slot_free(c->tid);
		return err;
	}
	return 0;
}

/* 1: stopped, 0: gone. The thread stops on its very way out of the
 * answered call; should it not (frozen?), it is waited for as long as it
 * lives: detached while running, it would hang at its next stop. */
static int wait_stop(struct sbx *sb, pid_t tid)
{
	struct timespec next_log;
	int r = -1;

	fuse_waiter_block();
	clock_gettime(CLOCK_REALTIME, &next_log);
	next_log.tv_sec += 10;
	pthread_mutex_lock(&trace_lock);
	while (r < 0) {
		struct traced *t = slot_of(tid);
		struct timespec now, tick;
		char p[32];
		siginfo_t si;

		if (t->stopped || t->gone) {
			r = t->stopped ? 1 : 0;
			break;
		}
		pthread_mutex_unlock(&trace_lock);
		memset(&si, 0, sizeof(si));
		snprintf(p, sizeof(p), "/proc/%d", tid);
		if (!waitid(P_PID, (id_t)tid, &si,
			    WSTOPPED | WNOHANG | __WALL) &&
		    si.si_pid == tid)
			r = 1;
		else if (access(p, F_OK) < 0)
			r = 0;
		pthread_mutex_lock(&trace_lock);
		if (r >= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec >= next_log.tv_sec) {
			if (sb->opts.debug)
				fprintf(stderr, "fusebox: exec: thread %d has "
						"not stopped for ptrace yet\n",
					tid);
			next_log.tv_sec = now.tv_sec + 10;
		}
		tick = now;
		tick.tv_nsec += 2 * 1000 * 1000;
		if (tick.tv_nsec >= 1000000000L) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&trace_cv, &trace_lock, &tick);
	}
	pthread_mutex_unlock(&trace_lock);
	return r;
}

/* The writable mapping holding the bytes just below sp: its start. */
static int stack_start(pid_t tid, uint64_t sp, uint64_t *start)
{
	char p[64], line[512];
	FILE *f;
	int r = -ENOMEM;

	snprintf(p, sizeof(p), "/proc/%d/maps", tid);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (lo < sp - RED_ZONE && sp - RED_ZONE <= hi) {
			if (perms[1] == 'w')
				*start = lo;
			r = perms[1] == 'w' ? 0 : -ENOMEM;
			break;
		}
	}
	fclose(f);
	return r;
}

static int read_ptrs(pid_t tid, uint64_t addr, uint64_t *out, size_t n)
{
	struct iovec l = { out, n * sizeof(*out) };
	struct iovec r = { (void *)(uintptr_t)addr, n * sizeof(*out) };

	return process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)l.iov_len
		       ? 0
		       : -EFAULT;
}

/* The caller's argv array: *n pointers into *out (malloc'd). */
static int old_args(pid_t tid, uint64_t argv, uint64_t **out, size_t *n)
{
	size_t cap = 64;
	uint64_t *v = malloc(cap * sizeof(*v));

	*out = v;
	*n = 0;
	if (!v)
		return -ENOMEM;
	while (argv) {
		uint64_t chunk[64];
		size_t got = 64;

		/* The array may end just before an unmapped page. */
		if (read_ptrs(tid, argv + *n * 8, chunk, 64)) {
			got = 1;
			if (read_ptrs(tid, argv + *n * 8, chunk, 1))
				return -EFAULT;
		}
		for (size_t i = 0; i < got; i++) {
			if (!chunk[i])
				return 0;
			if (*n == cap) {
				uint64_t *nv;

				if (cap >= MAX_ARGV)
					return -E2BIG;
				nv = realloc(v, (cap *= 2) * sizeof(*v));
				if (!nv)
					return -ENOMEM;
				*out = v = nv;
			}
			v[(*n)++] = chunk[i];
		}
	}
	return 0;
}

/* Write what rd says below the stack and point the registers at it:
 * *r is changed only when all went well. */
static int apply(pid_t tid, struct user_regs_struct *r,
		 const struct sbx_redirect *rd)
{
	struct user_regs_struct n = *r;
	unsigned long long *path_reg, *argv_reg;
	uint64_t *old = NULL, *argvp, start = 0, top, base;
	size_t n_old = 0, keep, size, off, n_ptr;
	char *blob;
	int err;

	if (n.orig_rax == SYS_execve) {
		path_reg = &n.rdi;
		argv_reg = &n.rsi;
	} else if (n.orig_rax == SYS_execveat) {
		path_reg = &n.rsi;
		argv_reg = &n.rdx;
		/* The new path's last component is /proc's magic link. */
		n.r8 &= ~(unsigned long long)AT_SYMLINK_NOFOLLOW;
	} else {
		return -EINVAL;
	}
	if (rd->n_pre) {
		err = old_args(tid, *argv_reg, &old, &n_old);
		if (err) {
			free(old);
			return err;
		}
	}
	/* The new argv: rd->pre, then the old one without its argv[0]
	 * (binfmt_script's remove_arg_zero). */
	keep = n_old ? n_old - 1 : 0;
	n_ptr = rd->n_pre ? rd->n_pre + keep + 1 : 0;
	size = n_ptr * 8 + strlen(rd->path) + 1;
	for (size_t i = 0; i < rd->n_pre; i++)
		size += strlen(rd->pre[i]) + 1;
	size = (size + 15) & ~(size_t)15;
	err = stack_start(tid, n.rsp, &start);
	top = (n.rsp - RED_ZONE) & ~(uint64_t)15;
	if (!err && (top < start || top - start < size))
		err = -E2BIG;
	if (err) {
		free(old);
		return err;
	}
	base = top - size;
	if (base - start > STACK_GAP)
		base -= STACK_GAP;
	else
		base = (start + 15) & ~(uint64_t)15;
	blob = calloc(1, size);
	if (!blob) {
		free(old);
		return -ENOMEM;
	}
	/* [argv pointers][path][pre strings] */
	argvp = (uint64_t *)blob;
	off = n_ptr * 8;
	memcpy(blob + off, rd->path, strlen(rd->path) + 1);
	*path_reg = base + off;
	off += strlen(rd->path) + 1;
	for (size_t i = 0; i < rd->n_pre; i++) {
		argvp[i] = base + off;
		memcpy(blob + off, rd->pre[i], strlen(rd->pre[i]) + 1);
		off += strlen(rd->pre[i]) + 1;
	}
	if (n_ptr) {
		if (keep)
			memcpy(argvp + rd->n_pre, old + 1, keep * 8);
		argvp[rd->n_pre + keep] = 0;
		*argv_reg = base;
	}
	free(old);
	{
		struct iovec l = { blob, size };
		struct iovec rv = { (void *)(uintptr_t)base, size };

		if (process_vm_writev(tid, &l, 1, &rv, 1, 0) != (ssize_t)size)
			err = -EFAULT;
	}
	free(blob);
	if (!err)
		*r = n;
	return err;
}

long sbx_trace_end(struct sbx_call *c, const struct sbx_redirect *rd,
		   long err)
{
	struct sbx *sb = c->sb;
	pid_t tid = c->tid;
	struct user_regs_struct r;
	siginfo_t si;
	int stop, sig = 0;

	ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
	/* ENOENT: the wait was interrupted (a kernel without
	 * WAIT_KILLABLE_RECV treats PTRACE_INTERRUPT as a signal): the
	 * call ends -ERESTARTSYS, which restarts it just as well. */
	c->answered = sbx_reply(sb, c->n->id,
				rd ? -SBX_ERESTARTNOINTR : err) == 0;
	stop = wait_stop(sb, tid);
	if (!stop) {
		slot_free(tid);
		return SBX_SENT;
	}
	/* The interrupt's stop shows as SIGTRAP with PTRACE_EVENT_STOP in
	 * si_code; a group-stop has no siginfo (EINVAL). */
	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0 &&
	    (si.si_signo != SIGTRAP || si.si_code >> 8 != PTRACE_EVENT_STOP)) {
		/* A signal-delivery-stop: the signal goes on, the call
		 * restarts unchanged after its handler and comes back. */
		sig = si.si_signo;
		rd = NULL;
	}
	if (rd && ptrace(PTRACE_GETREGS, tid, NULL, &r) == 0) {
		long ax = (long)r.rax;

		if ((ax == -SBX_ERESTARTNOINTR || ax == -SBX_ERESTARTSYS) &&
		    !sbx_signal_pending(tid)) {
			int e = apply(tid, &r, rd);

			if (e) {
				/* No restart: the caller sees the error. */
				r.rax = (unsigned long long)(long)e;
				if (sb->opts.debug)
					fprintf(stderr, "fusebox: exec: no "
						"room to rerun the call of "
						"thread %d: %s\n", tid,
						strerror(-e));
			}
			ptrace(PTRACE_SETREGS, tid, NULL, &r);
		}
	}
	/* Out of the table first: once detached, the thread may be back
	 * with the same call, traced anew, before we would get to it. */
	slot_free(tid);
	ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
	return SBX_SENT;
}

#else

int sbx_trace_begin(struct sbx_call *c)
{
	return -ENOSYS;
}

long sbx_trace_end(struct sbx_call *c, const struct sbx_redirect *rd,
		   long err)
{
	return err;
}

#endif
