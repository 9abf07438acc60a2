/*
 * procs.c - the current directory of processes whose cwd lies inside a
 * mount. The kernel cannot hold it (it knows nothing of the mount), so the
 * supervisor does: per thread, copied from the parent on first sight
 * (fork), shared between the threads of a process (CLONE_FS, as pthreads
 * do), dropped when a pidfd says the thread has ended.
 *
 * Nothing here is consulted while no process has such a cwd (n_vcwd).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD 0x80 /* O_EXCL: Linux 6.9 */
#endif

void sbx_cwd_put(struct sbx *sb, struct sbx_cwd *cwd)
{
	if (!cwd || __atomic_sub_fetch(&cwd->refs, 1, __ATOMIC_ACQ_REL))
		return;
	vfs_inode_put(cwd->mnt->fs->m, cwd->ino);
	sbx_mount_put(sb, cwd->mnt);
	free(cwd->path);
	free(cwd);
}

static void cwd_get(struct sbx_cwd *cwd)
{
	if (cwd)
		__atomic_add_fetch(&cwd->refs, 1, __ATOMIC_RELAXED);
}

/* Tgid and PPid of a thread, from /proc/TID/status. */
static int ids_of(pid_t tid, pid_t *tgid, pid_t *ppid)
{
	char p[64], line[256];
	FILE *f;
	int got = 0;

	snprintf(p, sizeof(p), "/proc/%d/status", tid);
	f = fopen(p, "re");
	if (!f)
		return -ESRCH;
	while (got < 2 && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5)) {
			*tgid = atoi(line + 5);
			got++;
		} else if (!strncmp(line, "PPid:", 5)) {
			*ppid = atoi(line + 5);
			got++;
		}
	}
	fclose(f);
	return got == 2 ? 0 : -ESRCH;
}

static struct sbx_proc *find(struct sbx *sb, pid_t tid)
{
	for (struct sbx_proc *p = sb->procs; p; p = p->next)
		if (p->tid == tid)
			return p;
	return NULL;
}

/* The entry of thread tid, made on first sight (from its process's or
 * its parent's, made first if need be: an ancestor that never used a
 * path still passed its cwd down). Called with sb->lock held; drops and
 * retakes it. */
static struct sbx_proc *entry_of(struct sbx *sb, pid_t tid, int depth)
{
	struct sbx_proc *p = find(sb, tid), *from = NULL;
	pid_t tgid, ppid;
	struct epoll_event ev;

	if (p)
		return p;
	pthread_mutex_unlock(&sb->lock);
	if (ids_of(tid, &tgid, &ppid) < 0) {
		pthread_mutex_lock(&sb->lock);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pthread_mutex_lock(&sb->lock);
		return NULL;
	}
	p->tid = tid;
	p->tgid = tgid;
	p->pidfd = (int)syscall(SYS_pidfd_open, tid,
				tgid == tid ? 0 : PIDFD_THREAD);
	pthread_mutex_lock(&sb->lock);
	if (find(sb, tid)) { /* another worker made it meanwhile */
		if (p->pidfd >= 0)
			close(p->pidfd);
		free(p);
		return find(sb, tid);
	}
	/* A thread shares its process's cwd; a new process starts with its
	 * parent's. The sandbox's processes all descend from sb->child. */
	if (tgid != tid)
		from = entry_of(sb, tgid, depth + 1);
	else if (tid != sb->child && ppid > 1 && depth < 64)
		from = entry_of(sb, ppid, depth + 1);
	if (from && from->cwd) {
		p->cwd = from->cwd;
		cwd_get(p->cwd);
		sb->n_vcwd++;
	}
	if (p->pidfd >= 0) {
		ev.events = EPOLLIN;
		ev.data.u64 = 0;
		ev.data.fd = p->tid;
		epoll_ctl(sb->epoll, EPOLL_CTL_ADD, p->pidfd, &ev);
	}
	p->next = sb->procs;
	sb->procs = p;
	return p;
}

static struct sbx_proc *entry(struct sbx_call *c)
{
	return entry_of(c->sb, c->tid, 0);
}

struct sbx_cwd *sbx_cwd_get(struct sbx_call *c)
{
	struct sbx *sb = c->sb;
	struct sbx_cwd *cwd = NULL;
	struct sbx_proc *p;

	if (!__atomic_load_n(&sb->n_vcwd, __ATOMIC_RELAXED))
		return NULL;
	pthread_mutex_lock(&sb->lock);
	p = entry(c);
	if (p && p->cwd) {
		cwd = p->cwd;
		cwd_get(cwd);
	}
	pthread_mutex_unlock(&sb->lock);
	return cwd;
}

int sbx_cwd_set(struct sbx_call *c, struct sbx_cwd *cwd)
{
	struct sbx *sb = c->sb;
	struct sbx_cwd *old[64];
	struct sbx_proc *p;
	int n_old = 0;
	pid_t tgid;

	if (!cwd && !__atomic_load_n(&sb->n_vcwd, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&sb->lock);
	p = entry(c);
	if (!p) {
		pthread_mutex_unlock(&sb->lock);
		sbx_cwd_put(sb, cwd);
		return -ESRCH;
	}
	tgid = p->tgid;
	for (struct sbx_proc *q = sb->procs; q; q = q->next) {
		if (q->tgid != tgid)
			continue;
		if (q->cwd) {
			sb->n_vcwd--;
			if (n_old < 64)
				old[n_old++] = q->cwd;
		}
		q->cwd = cwd;
		if (cwd) {
			cwd_get(cwd);
			sb->n_vcwd++;
		}
	}
	pthread_mutex_unlock(&sb->lock);
	sbx_cwd_put(sb, cwd); /* the caller's reference */
	for (int i = 0; i < n_old; i++)
		sbx_cwd_put(sb, old[i]);
	return 0;
}

int sbx_procs_reap(struct sbx *sb, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(sb->epoll, ev, 64, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		pid_t tid = ev[i].data.fd;
		struct sbx_proc *p = NULL;

		pthread_mutex_lock(&sb->lock);
		for (struct sbx_proc **pp = &sb->procs; *pp;
		     pp = &(*pp)->next)
			if ((*pp)->tid == tid) {
				p = *pp;
				*pp = p->next;
				break;
			}
		if (p && p->cwd)
			sb->n_vcwd--;
		pthread_mutex_unlock(&sb->lock);
		if (!p)
			continue;
		epoll_ctl(sb->epoll, EPOLL_CTL_DEL, p->pidfd, NULL);
		close(p->pidfd);
		sbx_cwd_put(sb, p->cwd);
		free(p);
	}
	return n;
}

void *sbx_reaper_thread(void *arg)
{
	struct sbx *sb = arg;

	while (sbx_procs_reap(sb, 500) >= 0)
		;
	return NULL;
}

pid_t sbx_tgid(struct sbx_call *c)
{
	pid_t tgid = c->tid, ppid;

	ids_of(c->tid, &tgid, &ppid);
	return tgid;
}
