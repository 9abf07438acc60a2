/*
 * exec_names.c - what a program fusebox ran from a mount is called.
 *
 * A program on a mount runs from a memfd holding a copy of it
 * (sys_exec.c), so the kernel's /proc/PID/exe and /proc/PID/fd/N name
 * "/memfd:tool (deleted)". Programs ask where they live (`readlink -f
 * "$0"`, `dirname $(readlink /proc/self/exe)`, glibc's $ORIGIN), so
 * readlink of those links is answered from this table: the memfd's
 * identity (st_dev, st_ino) -> the file's path on the mount.
 *
 * Nothing tells us when the last user of a memfd is gone, so the table
 * is bounded: the least recently used entry makes room. A memfd's inode
 * number is not reused while the memfd lives, and only entries older
 * than the last SBX_EXEC_NAMES execs can go.
 *
 * Locking: names_lock, a leaf, guards the table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sandbox/sandbox.h"

#define SBX_EXEC_NAMES 256

struct sbx_exec_name {
	dev_t dev;
	ino_t ino;
	uint64_t used;		/* 0: a free slot */
	char *path;
};

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sbx_exec_name names[SBX_EXEC_NAMES];
static uint64_t tick;
static unsigned in_use;		/* read without the lock as a hint */

void sbx_exec_name_add(int memfd, const char *path)
{
	struct sbx_exec_name *slot = &names[0];
	struct stat st;
	char *copy;

	if (fstat(memfd, &st) < 0 || !(copy = strdup(path)))
		return;
	pthread_mutex_lock(&names_lock);
	for (unsigned i = 0; i < SBX_EXEC_NAMES; i++) {
		if (!names[i].used) {
			slot = &names[i];
			break;
		}
		if (names[i].used < slot->used)
			slot = &names[i];
	}
	if (!slot->used)
		__atomic_add_fetch(&in_use, 1, __ATOMIC_RELAXED);
	free(slot->path);
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->used = ++tick;
	slot->path = copy;
	pthread_mutex_unlock(&names_lock);
}

bool sbx_exec_name_of(const char *link, char *out, size_t size)
{
	struct stat st;
	bool found = false;

	if (!__atomic_load_n(&in_use, __ATOMIC_RELAXED) || stat(link, &st) < 0)
		return false;
	pthread_mutex_lock(&names_lock);
	for (unsigned i = 0; i < SBX_EXEC_NAMES; i++) {
		struct sbx_exec_name *e = &names[i];

		if (e->used && e->ino == st.st_ino && e->dev == st.st_dev) {
			e->used = ++tick;
			snprintf(out, size, "%s", e->path);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&names_lock);
	return found;
}
