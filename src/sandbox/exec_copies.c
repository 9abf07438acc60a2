/*
 * exec_copies.c - the copies of programs that exec made (sys_exec.c):
 * what each is called, and the newest ones themselves, for the next exec
 * of the same file.
 *
 * Names: a program on a mount runs from a memfd, so the kernel's
 * /proc/PID/exe and /proc/PID/fd/N say "/memfd:tool (deleted)". Programs
 * ask where they live (`readlink -f "$0"`, `dirname $(readlink
 * /proc/self/exe)`, glibc's $ORIGIN), so readlink of those links is
 * answered from here: the memfd's identity (st_dev, st_ino) -> the
 * file's path on the mount. Nothing tells us when the last user of a
 * memfd is gone, so the table is bounded (MAX_COPIES, least recently used
 * first out); a memfd's inode number is not reused while it lives.
 *
 * Copies: a sealed copy of an unchanged file is given again instead of
 * reading the file anew, as Linux's page cache would serve it: the same
 * mount, node, size, mtime and ctime (attributes as fresh as the mount's
 * timeouts make them). Processes running one program then share its
 * pages, as they would on Linux. At most MAX_KEPT copies of at most
 * MAX_KEPT_BYTES in all are kept open; an older entry keeps its name
 * only.
 *
 * Locking: copies_lock, a leaf, guards the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define MAX_COPIES 256
#define MAX_KEPT 32
#define MAX_KEPT_BYTES (512LL * 1024 * 1024)

struct copy {
	dev_t dev;
	ino_t ino;
	uint64_t used;		/* 0: a free slot */
	char *path;
	int fd;			/* kept open, sealed; -1: a name only */
	off_t size;
	struct sbx_exec_key key;
};

static pthread_mutex_t copies_lock = PTHREAD_MUTEX_INITIALIZER;
static struct copy copies[MAX_COPIES];
static uint64_t tick;
static unsigned in_use;		/* read without the lock as a hint */

static bool key_eq(const struct sbx_exec_key *a, const struct sbx_exec_key *b)
{
	return a->mnt_id == b->mnt_id && a->nodeid == b->nodeid &&
	       a->generation == b->generation && a->size == b->size &&
	       a->mtime == b->mtime && a->mtimensec == b->mtimensec &&
	       a->ctime == b->ctime && a->ctimensec == b->ctimensec;
}

/* Close kept copies, oldest first, until the bounds hold (lock held). */
static void trim(void)
{
	for (;;) {
		struct copy *old = NULL;
		long long bytes = 0;
		unsigned kept = 0;

		for (unsigned i = 0; i < MAX_COPIES; i++) {
			if (copies[i].fd < 0 || !copies[i].used)
				continue;
			kept++;
			bytes += copies[i].size;
			if (!old || copies[i].used < old->used)
				old = &copies[i];
		}
		if (kept <= MAX_KEPT && bytes <= MAX_KEPT_BYTES)
			return;
		close(old->fd);
		old->fd = -1;
	}
}

void sbx_exec_copy_add(int memfd, const char *path,
		       const struct sbx_exec_key *key)
{
	struct copy *slot = &copies[0];
	struct stat st;
	char *name;
	int kept = -1;

	if (fstat(memfd, &st) < 0 || !(name = strdup(path)))
		return;
	if (key && (kept = fcntl(memfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(name);
		return;
	}
	pthread_mutex_lock(&copies_lock);
	for (unsigned i = 0; i < MAX_COPIES; i++) {
		if (!copies[i].used) {
			slot = &copies[i];
			break;
		}
		if (copies[i].used < slot->used)
			slot = &copies[i];
	}
	if (!slot->used)
		__atomic_add_fetch(&in_use, 1, __ATOMIC_RELAXED);
	else if (slot->fd >= 0)
		close(slot->fd);
	free(slot->path);
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->used = ++tick;
	slot->path = name;
	slot->fd = kept;
	slot->size = st.st_size;
	if (key)
		slot->key = *key;
	trim();
	pthread_mutex_unlock(&copies_lock);
}

int sbx_exec_copy_find(const struct sbx_exec_key *key)
{
	int fd = -1;

	if (!__atomic_load_n(&in_use, __ATOMIC_RELAXED))
		return -1;
	pthread_mutex_lock(&copies_lock);
	for (unsigned i = 0; i < MAX_COPIES && fd < 0; i++) {
		struct copy *e = &copies[i];

		if (e->used && e->fd >= 0 && key_eq(&e->key, key)) {
			e->used = ++tick;
			fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
		}
	}
	pthread_mutex_unlock(&copies_lock);
	return fd;
}

bool sbx_exec_name_of(const char *link, char *out, size_t size)
{
	struct stat st;
	bool found = false;

	if (!__atomic_load_n(&in_use, __ATOMIC_RELAXED) || stat(link, &st) < 0)
		return false;
	pthread_mutex_lock(&copies_lock);
	for (unsigned i = 0; i < MAX_COPIES && !found; i++) {
		struct copy *e = &copies[i];

		if (e->used && e->ino == st.st_ino && e->dev == st.st_dev) {
			e->used = ++tick;
			snprintf(out, size, "%s", e->path);
			found = true;
		}
	}
	pthread_mutex_unlock(&copies_lock);
	return found;
}
