/*
 * run.c - `fusebox run`: start PROGRAM under the filter, serve its trapped
 * calls on worker threads, and when it exits unmount what is left, end
 * the servers and return PROGRAM's status.
 *
 * Workers take turns at the listener: one polls, receives and serves
 * what it received itself, and hands the turn on only when a call is
 * about to wait (sbx_turn_pass), so a call blocked on a hung server
 * holds one worker only; a new worker starts whenever none is left
 * waiting for the turn.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

#define MAX_WORKERS 512
#define LEFTOVER_WAIT_MS 2000

static void *worker(void *arg);

static void spawn_worker(struct sbx *sb)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (pthread_create(&t, &a, worker, sb) == 0)
		sb->workers++;
	pthread_attr_destroy(&a);
}

/* Wait for the turn (wlock held). false: stopping. */
static bool take_turn(struct sbx *sb, uint64_t *gen)
{
	while (sb->turn_taken &&
	       !__atomic_load_n(&sb->stopping, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&sb->turn_cv, &sb->wlock);
	if (__atomic_load_n(&sb->stopping, __ATOMIC_ACQUIRE))
		return false;
	sb->turn_taken = true;
	*gen = sb->turn_gen;
	return true;
}

/* The holder at gen leaves the turn to the next worker, and is no longer
 * idle (wlock held): one is started if none is left to take it. */
static void hand_off(struct sbx *sb)
{
	__atomic_add_fetch(&sb->turn_gen, 1, __ATOMIC_RELEASE);
	sb->turn_taken = false;
	sb->idle--;
	if (sb->idle == 0 && sb->workers < sb->max_workers) {
		sb->idle++;
		spawn_worker(sb);
	}
	pthread_cond_signal(&sb->turn_cv);
}

void sbx_turn_pass(struct sbx_call *c)
{
	struct sbx *sb = c->sb;

	if (!c->holds_turn)
		return;
	c->holds_turn = false;
	pthread_mutex_lock(&sb->wlock);
	/* The watchdog may have handed it off for us already. */
	if (sb->turn_gen == c->turn_gen)
		hand_off(sb);
	pthread_mutex_unlock(&sb->wlock);
}

/* Wait for a call: 1, one is there; 0, not yet; -1, the sandbox is
 * over (no process holds the filter any more). */
static int listener_wait(struct sbx *sb)
{
	struct pollfd p = { .fd = sb->listener, .events = POLLIN };
	int r = poll(&p, 1, 200);

	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r > 0 && (p.revents & (POLLHUP | POLLERR)) &&
	    !(p.revents & POLLIN))
		return -1;
	return r > 0;
}

static bool call_gone(void *ctx)
{
	struct sbx_call *c = ctx;

	/* Asked while waiting: a wait nobody announced. */
	sbx_turn_pass(c);
	return sbx_call_gone(c);
}

static void call_blocks(void *ctx)
{
	sbx_turn_pass(ctx);
}

/* The holder of the turn serves the calls it receives itself: the
 * trapped thread woke it on its own CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
 * and is woken back on it by the answer, and no other thread is involved.
 * A call that is about to wait passes the turn on first (sbx_turn_pass,
 * through the fuse_waiter's block hook), so that a call that hangs on a
 * server holds one worker only, and the server's own calls are still
 * received. */
static void *worker(void *arg)
{
	struct sbx *sb = arg;
	struct seccomp_notif n;
	struct fuse_waiter w = { .gone = call_gone, .block = call_blocks };
	uint64_t gen = 0;
	bool holding = false;

	for (;;) {
		struct sbx_call c;
		long r;

		if (!holding) {
			pthread_mutex_lock(&sb->wlock);
			holding = take_turn(sb, &gen);
			pthread_mutex_unlock(&sb->wlock);
			if (!holding)
				goto out;
		}
		/* With SYNC_WAKE_UP (Linux 6.6 on), RECV waits on the wait
		 * queue poll waits on, is woken on the trapped thread's CPU,
		 * and fails at once with ENOENT when the sandbox has no
		 * process left (or the caller died before we took the call):
		 * then poll tells the two apart. Older kernels' RECV sleeps
		 * through the end of the sandbox: poll first there. */
		for (;;) {
			if (__atomic_load_n(&sb->stopping, __ATOMIC_ACQUIRE))
				goto out;
			if (!sb->recv_blocks) {
				r = listener_wait(sb);
				if (r < 0)
					goto out;
				if (r == 0)
					continue;
			}
			memset(&n, 0, sizeof(n));
			if (ioctl(sb->listener, SECCOMP_IOCTL_NOTIF_RECV, &n) == 0)
				break;
			if (errno != EINTR && errno != ENOENT)
				goto out;
			if (sb->recv_blocks && listener_wait(sb) < 0)
				goto out;
		}
		__atomic_store_n(&sb->turn_busy, true, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sb->turn_calls, 1, __ATOMIC_RELAXED);

		memset(&c, 0, sizeof(c));
		c.sb = sb;
		c.n = &n;
		c.tid = (pid_t)n.pid;
		c.holds_turn = true;
		c.turn_gen = gen;
		w.ctx = &c;
		fuse_set_waiter(&w);
		r = sbx_dispatch(&c);
		fuse_set_waiter(NULL);
		if (c.holds_turn)
			__atomic_store_n(&sb->turn_busy, false,
					 __ATOMIC_RELAXED);
		if (r != SBX_SENT && !c.answered)
			sbx_reply(sb, n.id, r);

		/* Still ours unless passed on, by us or by the watchdog. */
		if (c.holds_turn &&
		    __atomic_load_n(&sb->turn_gen, __ATOMIC_ACQUIRE) == gen)
			continue;
		holding = false;
		pthread_mutex_lock(&sb->wlock);
		sb->idle++;
		pthread_mutex_unlock(&sb->wlock);
	}
out:
	pthread_mutex_lock(&sb->wlock);
	if (holding && sb->turn_gen == gen) {
		sb->turn_taken = false;
		pthread_cond_broadcast(&sb->turn_cv);
	}
	sb->idle--;
	sb->workers--;
	pthread_cond_broadcast(&sb->wcv);
	pthread_mutex_unlock(&sb->wlock);
	return NULL;
}

#define WATCHDOG_MS 20

/* A call that waits without saying so (a wait no hook covers) must not
 * keep the others from being received: a holder seen serving the same
 * call twice, WATCHDOG_MS apart, has its turn handed off for it. */
static void *watchdog(void *arg)
{
	struct sbx *sb = arg;
	uint64_t seen = 0;

	while (!__atomic_load_n(&sb->stopping, __ATOMIC_ACQUIRE)) {
		struct timespec ts = { 0, WATCHDOG_MS * 1000000L };
		uint64_t calls;

		nanosleep(&ts, NULL);
		calls = __atomic_load_n(&sb->turn_calls, __ATOMIC_RELAXED);
		if (!__atomic_load_n(&sb->turn_busy, __ATOMIC_RELAXED) ||
		    calls != seen) {
			seen = calls;
			continue;
		}
		pthread_mutex_lock(&sb->wlock);
		if (sb->turn_taken &&
		    __atomic_load_n(&sb->turn_busy, __ATOMIC_RELAXED) &&
		    __atomic_load_n(&sb->turn_calls, __ATOMIC_RELAXED) == seen) {
			__atomic_store_n(&sb->turn_busy, false,
					 __ATOMIC_RELAXED);
			hand_off(sb);
		}
		pthread_mutex_unlock(&sb->wlock);
	}
	return NULL;
}

/* The listener, and a byte: 'K' when trapped calls wait killably. */
static int send_fd(int sock, int fd, char byte)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock, char *byte_out)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	int fd;

	if (r <= 0)
		return r < 0 ? -errno : -EPIPE;
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	*byte_out = byte;
	return fd;
}

/* In the child: install the filter, hand the listener to the parent,
 * wait for it to be served, run PROGRAM. */
static void child_main(int sock, char *const argv[])
{
	struct rlimit rl;
	sigset_t none;
	char go;
	int lfd;
	bool killable = false;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* The supervisor ignores SIGPIPE; PROGRAM must not inherit that
	 * (`cmd | head` ends cmd by SIGPIPE). */
	signal(SIGPIPE, SIG_DFL);
	/* ADDFD cannot place a descriptor above the soft limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < SBX_VFD_HI &&
	    rl.rlim_max >= SBX_VFD_HI) {
		rl.rlim_cur = SBX_VFD_HI;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lfd = sbx_filter_install(&killable);
	if (lfd < 0) {
		fprintf(stderr, "fusebox: cannot install the seccomp filter: %s\n",
			strerror(-lfd));
		_exit(125);
	}
	if (send_fd(sock, lfd, killable ? 'K' : 'L') < 0)
		_exit(125);
	close(lfd);
	if (read(sock, &go, 1) != 1)
		_exit(125);
	close(sock);
	execvp(argv[0], argv);
	fprintf(stderr, "fusebox: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Our children that are still running (we are their subreaper): each
 * thread's /proc/self/task/T/children lists those it forked or got. */
static int signal_children(int sig)
{
	char path[300];
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *t;
	int n = 0;

	if (!tasks)
		return 0;
	while ((t = readdir(tasks))) {
		FILE *f;
		pid_t p;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 t->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &p) == 1) {
			if (sig)
				kill(p, sig);
			n++;
		}
		fclose(f);
	}
	closedir(tasks);
	return n;
}

static void reap_all(int *status, pid_t child, bool *child_done)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (!sbx_trace_status(p, st) && p == child) {
			*status = st;
			*child_done = true;
		}
}

int sbx_run(const struct sbx_options *o, char *const argv[])
{
	struct sbx *sb = calloc(1, sizeof(*sb));
	struct rlimit rl;
	pthread_t t;
	int sv[2], status = 0, lfd;
	char kbyte = 0;
	bool child_done = false;
	uint64_t sync_flag = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;

	if (!sb)
		return 125;
	sb->opts = *o;
	pthread_mutex_init(&sb->lock, NULL);
	pthread_mutex_init(&sb->wlock, NULL);
	pthread_mutex_init(&sb->ino_lock, NULL);
	pthread_cond_init(&sb->ino_cv, NULL);
	pthread_cond_init(&sb->wcv, NULL);
	pthread_cond_init(&sb->turn_cv, NULL);
	pthread_mutex_init(&sb->vpoll_lock, NULL);
	sb->max_workers = MAX_WORKERS;
	sb->next_mnt_id = 0;
	/* Servers that daemonize become our children, so that we can see
	 * them end. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("fusebox: socketpair");
		return 125;
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sb->child = fork();
	if (sb->child < 0) {
		perror("fusebox: fork");
		return 125;
	}
	if (sb->child == 0) {
		close(sv[0]);
		child_main(sv[1], argv);
	}
	close(sv[1]);
	/* The supervisor holds a descriptor for every open virtual file. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lfd = recv_fd(sv[0], &kbyte);
	if (lfd < 0) {
		waitpid(sb->child, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
	}
	sb->listener = lfd;
	sb->killable = kbyte == 'K';
	/* Synchronous wake-up: the supervisor runs on the trapped thread's
	 * CPU (measured here: a trap falls from ~30 to ~5 us). Kernels
	 * before 6.6 lack it; we run without. */
	sb->recv_blocks =
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync_flag) == 0;
	sb->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	sb->epoll = epoll_create1(EPOLL_CLOEXEC);
	if (sb->inotify < 0 || sb->epoll < 0) {
		perror("fusebox: inotify/epoll");
		kill(sb->child, SIGKILL);
		return 125;
	}
	pthread_create(&t, NULL, sbx_inotify_thread, sb);
	pthread_detach(t);
	sb->ino_epoll = epoll_create1(EPOLL_CLOEXEC);
	pthread_create(&t, NULL, sbx_inotify_forwarder, sb);
	pthread_detach(t);
	pthread_create(&t, NULL, sbx_reaper_thread, sb);
	pthread_detach(t);
	{
		int fd = open("/", O_CREAT | O_DIRECTORY | O_RDONLY, 0);

		sb->creat_dir_einval = fd < 0 && errno == EINVAL;
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_lock(&sb->wlock);
	sb->idle = 1;
	spawn_worker(sb);
	pthread_mutex_unlock(&sb->wlock);
	pthread_create(&t, NULL, watchdog, sb);
	pthread_detach(t);
	if (write(sv[0], "g", 1) != 1) {
		kill(sb->child, SIGKILL);
	}
	close(sv[0]);

	while (!child_done) {
		int st;
		pid_t p = waitpid(-1, &st, 0);

		/* A ptrace stop of a thread that exec is redirecting
		 * (ptrace.c) is reported here too: it is not ours. */
		if (p > 0 && sbx_trace_status(p, st))
			continue;
		if (p == sb->child) {
			status = st;
			child_done = true;
		} else if (p < 0 && errno != EINTR) {
			break;
		}
	}
	/* PROGRAM is done: unmount (the servers see ENODEV and exit), then
	 * give whatever is left a moment before ending it. */
	sbx_unmount_all(sb);
	for (int waited = 0; signal_children(0) && waited < LEFTOVER_WAIT_MS;
	     waited += 10) {
		reap_all(&status, sb->child, &child_done);
		sleep_ms(10);
	}
	if (signal_children(SIGTERM)) {
		for (int waited = 0; signal_children(0) && waited < 1000;
		     waited += 10) {
			reap_all(&status, sb->child, &child_done);
			sleep_ms(10);
		}
		while (signal_children(SIGKILL)) {
			reap_all(&status, sb->child, &child_done);
			sleep_ms(10);
		}
	}
	reap_all(&status, sb->child, &child_done);
	sbx_fifo_gc(sb, NULL, true); /* those of lazily detached mounts */
	__atomic_store_n(&sb->stopping, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&sb->wlock);
	pthread_cond_broadcast(&sb->turn_cv);
	while (sb->workers)
		pthread_cond_wait(&sb->wcv, &sb->wlock);
	pthread_mutex_unlock(&sb->wlock);
	close(sb->listener);
	sbx_exec_links_remove();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
