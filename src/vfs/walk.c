/*
 * walk.c - name lookup and path walk: ".", "..", symlinks (at most
 * VFS_MAX_SYMLINKS, then ELOOP), trailing slashes, and the dentry cache in
 * front of LOOKUP.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs.h"

static uint64_t expiry_of(uint64_t now, uint64_t sec, uint32_t nsec)
{
	uint64_t ttl = fuse_timeout_ns(sec, nsec);

	return ttl > UINT64_MAX - now ? UINT64_MAX : now + ttl;
}

int vfs_lookup(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const char *name,
	       struct vfs_inode **out)
{
	size_t len = strlen(name);
	struct fuse_entry_out eo;
	struct vfs_inode *ino;
	uint64_t now;
	int err;

	/* Search permission on the directory comes before the name. */
	err = vfs_permission(m, who, dir, X_OK);
	if (err)
		return err;
	now = vfs_now();
	pthread_mutex_lock(&m->lock);
	switch (vfs_dentry_find(m, dir, name, len, now, out)) {
	case 1:
		pthread_mutex_unlock(&m->lock);
		return 0;
	case 0:
		pthread_mutex_unlock(&m->lock);
		return -ENOENT;
	}
	dir->advise_rdplus = true;
	pthread_mutex_unlock(&m->lock);

	memset(&eo, 0, sizeof(eo));
	err = fuse_op_lookup(m->conn, who, dir->nodeid, name, &eo);
	if (err) {
		if (err == -ENOENT) {
			pthread_mutex_lock(&m->lock);
			vfs_dentry_drop(m, dir, name, len);
			vfs_unlock(m);
		}
		return err;
	}
	now = vfs_now();
	pthread_mutex_lock(&m->lock);
	if (eo.nodeid == 0) {
		/* A negative entry, cached for entry_valid. */
		if (eo.entry_valid || eo.entry_valid_nsec)
			vfs_dentry_set(m, dir, name, len, NULL,
				       expiry_of(now, eo.entry_valid,
						 eo.entry_valid_nsec));
		else
			vfs_dentry_drop(m, dir, name, len);
		vfs_unlock(m);
		return -ENOENT;
	}
	ino = vfs_inode_install(m, &eo, now);
	if (!ino) {
		vfs_unlock(m);
		fuse_log_bad(m->conn, "LOOKUP of \"%s\" gave an unusable node",
			     name);
		return -EIO;
	}
	if (S_ISDIR(ino->type) && ino->parent != dir) {
		/* A directory has one parent: remember it for "..". */
		struct vfs_inode *old = ino->parent;

		vfs_inode_get(dir);
		ino->parent = dir;
		vfs_inode_put_locked(m, old);
	}
	vfs_dentry_set(m, dir, name, len, ino,
		       expiry_of(now, eo.entry_valid, eo.entry_valid_nsec));
	*out = ino;
	vfs_unlock(m);
	return 0;
}

ssize_t vfs_readlink(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, char *buf, size_t size)
{
	char *tmp;
	ssize_t n;

	if (!S_ISLNK(ino->type))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (ino->link) {
		n = (ssize_t)(ino->link_len < size ? ino->link_len : size);
		memcpy(buf, ino->link, (size_t)n);
		pthread_mutex_unlock(&m->lock);
		return n;
	}
	pthread_mutex_unlock(&m->lock);

	tmp = malloc(PATH_MAX);
	if (!tmp)
		return -ENOMEM;
	n = fuse_op_readlink(m->conn, who, ino->nodeid, tmp, PATH_MAX);
	if (n >= 0 && (m->conn->lim.flags & FUSE_CACHE_SYMLINKS)) {
		pthread_mutex_lock(&m->lock);
		if (!ino->link) {
			ino->link = malloc((size_t)n + 1);
			if (ino->link) {
				memcpy(ino->link, tmp, (size_t)n);
				ino->link_len = (size_t)n;
			}
		}
		pthread_mutex_unlock(&m->lock);
	}
	if (n >= 0) {
		if ((size_t)n > size)
			n = (ssize_t)size;
		memcpy(buf, tmp, (size_t)n);
	}
	free(tmp);
	return n;
}

/* Replace the walk's remaining path by target + "/" + rest. */
static int splice_link(char **path, char **rest, const char *target,
		       size_t tlen)
{
	size_t rlen = strlen(*rest);
	char *np;

	if (tlen + 1 + rlen + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	np = malloc(tlen + 1 + rlen + 1);
	if (!np)
		return -ENOMEM;
	memcpy(np, target, tlen);
	if (rlen) {
		np[tlen] = '/';
		memcpy(np + tlen + 1, *rest, rlen + 1);
	} else {
		np[tlen] = '\0';
	}
	free(*path);
	*path = np;
	*rest = np;
	return 0;
}

int vfs_walk(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *start, const char *path, int flags,
	     struct vfs_inode **out)
{
	return vfs_walk_ext(m, who, start, path, flags, out, NULL);
}

/* Canonical path upkeep: x->canon is the path from the root to cur. */
static void canon_push(struct vfs_walk_ext *x, const char *name, size_t len)
{
	size_t n;

	if (!x || !x->canon)
		return;
	n = strlen(x->canon);
	if (n + 1 + len + 1 > x->canon_size)
		return; /* too long to track: keep the prefix */
	x->canon[n] = '/';
	memcpy(x->canon + n + 1, name, len);
	x->canon[n + 1 + len] = '\0';
}

static void canon_pop(struct vfs_walk_ext *x)
{
	char *slash;

	if (!x || !x->canon)
		return;
	slash = strrchr(x->canon, '/');
	if (slash)
		*slash = '\0';
}

/* Leave the mount: the rest of the walk belongs to the caller. */
static int escape(struct vfs_walk_ext *x, bool dotdot, const char *rest)
{
	x->dotdot = dotdot;
	x->rest = strdup(rest);
	return x->rest ? 1 : -ENOMEM;
}

int vfs_walk_ext(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *start, const char *path, int flags,
		 struct vfs_inode **out, struct vfs_walk_ext *x)
{
	bool leave = x && x->escape;
	struct vfs_inode *cur, *next;
	char *buf, *p, name[PATH_MAX];
	char target[PATH_MAX];
	int links = 0, err = 0;
	bool must_dir = false;

	if (!*path) {
		if (!(flags & VFS_EMPTY_PATH))
			return -ENOENT;
		pthread_mutex_lock(&m->lock);
		vfs_inode_get(start);
		pthread_mutex_unlock(&m->lock);
		*out = start;
		return 0;
	}
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	buf = strdup(path);
	if (!buf)
		return -ENOMEM;
	p = buf;
	if (*p == '/' && leave) {
		err = escape(x, false, p);
		free(buf);
		return err;
	}
	cur = *p == '/' ? m->root : start;
	if (*p == '/' && x && x->canon)
		x->canon[0] = '\0';
	pthread_mutex_lock(&m->lock);
	vfs_inode_get(cur);
	pthread_mutex_unlock(&m->lock);

	for (;;) {
		char *end;
		size_t len;
		bool last;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		last = true;
		for (char *q = end; *q; q++)
			if (*q != '/') {
				last = false;
				break;
			}
		must_dir = *end == '/';
		if (!S_ISDIR(cur->type)) {
			err = -ENOTDIR;
			break;
		}
		if (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.'))) {
			/* As any name: search permission first (vfs_lookup
			 * checks it for the others). */
			err = vfs_permission(m, who, cur, X_OK);
			if (err)
				break;
		}
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (cur == m->root && leave) {
				err = escape(x, true, end);
				break;
			}
			canon_pop(x);
			pthread_mutex_lock(&m->lock);
			next = cur->parent ? cur->parent : m->root;
			vfs_inode_get(next);
			vfs_inode_put_locked(m, cur);
			vfs_unlock(m);
			cur = next;
			p = end;
			continue;
		}
		if (len >= sizeof(name)) {
			err = -ENAMETOOLONG;
			break;
		}
		/* The server's limit (name_max) is checked by LOOKUP. */
		memcpy(name, p, len);
		name[len] = '\0';
		err = vfs_lookup(m, who, cur, name, &next);
		if (err)
			break;
		if (S_ISLNK(next->type) &&
		    (!last || must_dir || (flags & VFS_FOLLOW))) {
			ssize_t tlen;

			if (++links > VFS_MAX_SYMLINKS) {
				vfs_inode_put(m, next);
				err = -ELOOP;
				break;
			}
			tlen = vfs_readlink(m, who, next, target,
					    sizeof(target));
			vfs_inode_put(m, next);
			if (tlen <= 0) {
				err = tlen < 0 ? (int)tlen : -ENOENT;
				break;
			}
			p = end;
			err = splice_link(&buf, &p, target, (size_t)tlen);
			if (err)
				break;
			if (*p == '/' && leave) {
				err = escape(x, false, p);
				break;
			}
			if (*p == '/') {
				if (x && x->canon)
					x->canon[0] = '\0';
				vfs_inode_put(m, cur);
				cur = m->root;
				pthread_mutex_lock(&m->lock);
				vfs_inode_get(cur);
				pthread_mutex_unlock(&m->lock);
			}
			continue;
		}
		canon_push(x, p, len);
		vfs_inode_put(m, cur);
		cur = next;
		p = end;
	}
	if (err == 1) {
		free(buf);
		vfs_inode_put(m, cur);
		return 1;
	}
	if (!err && must_dir && !S_ISDIR(cur->type))
		err = -ENOTDIR;
	free(buf);
	if (err) {
		vfs_inode_put(m, cur);
		return err;
	}
	*out = cur;
	return 0;
}
