/*
 * mount.c - one mounted FUSE filesystem in the VFS: its root, its device
 * number, and the FORGETs collected while m->lock was held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "vfs/vfs.h"

/* Cache timeouts run on the coarse clock (a tick, a few ms), as Linux's
 * run on jiffies: reading it costs a fraction of the precise one, and a
 * stat served from the cache reads it on every component. */
uint64_t vfs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vfs_unlock(struct vfs_mount *m)
{
	struct fuse_forget_one *f = NULL;
	size_t n = m->n_forgets;

	if (n) {
		f = m->forgets;
		m->forgets = NULL;
		m->n_forgets = m->cap_forgets = 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (n)
		fuse_op_forget_batch(m->conn, f, n);
	free(f);
}

int vfs_mount_new(struct fuse_conn *conn, size_t max_dentries,
		  struct vfs_mount **out)
{
	static unsigned next_minor;
	struct vfs_mount *m = calloc(1, sizeof(*m));
	struct vfs_inode *root = calloc(1, sizeof(*root));

	if (!m || !root) {
		free(m);
		free(root);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->lock_cv, NULL);
	pthread_mutex_init(&m->poll_lock, NULL);
	pthread_cond_init(&m->poll_cv, NULL);
	m->conn = conn;
	/* Anonymous devices have major 0, as Linux gives FUSE mounts. */
	m->dev = makedev(0, 0x400 + __atomic_fetch_add(&next_minor, 1,
						       __ATOMIC_RELAXED));
	m->lock_owner = (uint64_t)(uintptr_t)m;
	m->max_dentries = max_dentries;
	m->lru.lru_next = m->lru.lru_prev = &m->lru;
	root->nodeid = FUSE_ROOT_ID;
	root->type = S_IFDIR;
	root->refs = 1; /* the mount's own; never forgotten */
	m->root = root;
	root->mount = m;
	fuse_conn_set_notify(conn, vfs_notify, m);
	*out = m;
	return 0;
}

void vfs_mount_free(struct vfs_mount *m)
{
	/* After DESTROY the server keeps no state: no FORGETs now. The
	 * connection was aborted, so every RELEASE has ended or soon will. */
	fuse_conn_set_notify(m->conn, NULL, NULL);
	vfs_fsnotify_unmount(m); /* IN_UNMOUNT; the watches' pins go */
	pthread_mutex_lock(&m->lock);
	while (m->releases)
		pthread_cond_wait(&m->lock_cv, &m->lock);
	vfs_dentry_clear(m);
	vfs_inode_put_locked(m, m->root);
	m->n_forgets = 0;
	pthread_mutex_unlock(&m->lock);
	vfs_fifo_cleanup(m);
	free(m->forgets);
	free(m->itab);
	free(m->dtab);
	pthread_cond_destroy(&m->lock_cv);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->poll_cv);
	pthread_mutex_destroy(&m->poll_lock);
	free(m);
}
