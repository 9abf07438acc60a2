/*
 * exec_links.c - the name a program from a mount runs under.
 *
 * Linux names a process after the last component of the path it was run
 * by (/proc/PID/comm: what ps, top, pgrep and killall show), a script's
 * process after the script. A copy run as "/dev/fd/N" would be called
 * "N". So the path handed to the kernel is a symlink whose last component
 * is the program's name: DIR/SLOT/NAME -> /proc/self/fd/N (or, for a
 * script, its native interpreter). DIR is made at first use, mode 0711,
 * under $TMPDIR or /tmp, and removed by sbx_exec_links_remove at the end
 * of the run.
 *
 * A symlink is needed only until the kernel has opened what it names,
 * microseconds after the call goes on, so SLOTS directories are reused
 * in turn. Never use one for a path an interpreter is given to read
 * later ($0): it would change under it.
 *
 * Locking: links_lock, a leaf, guards all of this.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define SLOTS 64

static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static char dir[256];		/* "" until made */
static size_t dir_len;
static char *names[SLOTS];	/* the symlink in each slot */
static unsigned next_slot;
static bool failed;

/* A directory of ours: made, or still there as we made it. */
static bool own_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0711) < 0 && errno != EEXIST)
		return false;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid() && !(st.st_mode & 022);
}

static bool make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || tmp[0] != '/' || strlen(tmp) > 128)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/.fbx-XXXXXX", tmp);
	if (!mkdtemp(dir) || chmod(dir, 0711) < 0) {
		dir[0] = '\0';
		return false;
	}
	dir_len = strlen(dir);
	return true;
}

int sbx_exec_link(const char *name, const char *target, char *out,
		  size_t size)
{
	char slot[300];
	unsigned k;
	int err = 0;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	pthread_mutex_lock(&links_lock);
	if (!dir[0] && !failed && !make_dir())
		failed = true;
	if (!dir[0]) {
		pthread_mutex_unlock(&links_lock);
		return -ENOENT;
	}
	k = next_slot++ % SLOTS;
	snprintf(slot, sizeof(slot), "%s/%u", dir, k);
	if ((size_t)snprintf(out, size, "%s/%s", slot, name) >= size) {
		pthread_mutex_unlock(&links_lock);
		return -ENAMETOOLONG;
	}
	if (names[k]) {
		char old[600];

		snprintf(old, sizeof(old), "%s/%s", slot, names[k]);
		unlink(old);
		free(names[k]);
		names[k] = NULL;
	}
	/* A slot's directory is made at its first use. Someone may have
	 * emptied DIR (rm -rf /tmp/...): it is made again, as our own. */
	if (symlink(target, out) < 0 &&
	    (errno != ENOENT || !own_dir(dir) || !own_dir(slot) ||
	     symlink(target, out) < 0))
		err = -errno;
	if (!err)
		names[k] = strdup(name);
	pthread_mutex_unlock(&links_lock);
	return err;
}

bool sbx_exec_link_is(const char *path)
{
	bool mine;

	pthread_mutex_lock(&links_lock);
	mine = dir[0] && !strncmp(path, dir, dir_len) && path[dir_len] == '/';
	pthread_mutex_unlock(&links_lock);
	return mine;
}

void sbx_exec_links_remove(void)
{
	char p[600];

	pthread_mutex_lock(&links_lock);
	for (unsigned k = 0; dir[0] && k < SLOTS; k++) {
		if (names[k]) {
			snprintf(p, sizeof(p), "%s/%u/%s", dir, k, names[k]);
			unlink(p);
			free(names[k]);
			names[k] = NULL;
		}
		snprintf(p, sizeof(p), "%s/%u", dir, k);
		rmdir(p);
	}
	if (dir[0])
		rmdir(dir);
	dir[0] = '\0';
	pthread_mutex_unlock(&links_lock);
}
