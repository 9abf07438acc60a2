/*
 * resolve.c - decide where a path named by a sandboxed process lands:
 * outside every mount (the kernel does the call), or on a node of a
 * fusebox mount (we do it).
 *
 * Fast path: the supervisor asks the kernel to resolve the path as the
 * caller would (O_PATH open, relative paths through /proc/TID/cwd or
 * /proc/TID/fd/N). If that succeeds on something that is not a
 * mountpoint and not beneath one, the path is native. Otherwise (it
 * failed, or it met a mountpoint) we walk it component by component:
 * lstat and readlink for the native part, the VFS inside a mount, and
 * back to native when ".." leaves a mount's root or a symlink in it is
 * absolute.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define MAX_LINKS 40

int sbx_at_flags(int at_flags)
{
	return ((at_flags & AT_SYMLINK_NOFOLLOW) ? 0 : SBX_FOLLOW) |
	       ((at_flags & AT_EMPTY_PATH) ? SBX_EMPTY_PATH : 0);
}

void sbx_target_put(struct sbx *sb, struct sbx_target *t)
{
	if (t->where == SBX_VIRTUAL) {
		vfs_inode_put(t->mnt->fs->m, t->ino);
		sbx_mount_put(sb, t->mnt);
	}
	t->where = SBX_NATIVE;
	t->mnt = NULL;
	t->ino = NULL;
}

/* "/proc/self" and "/proc/thread-self" name the caller, not us. */
static int proc_self_fix(const struct sbx_call *c, const char *in, char *out,
			 size_t size)
{
	const char *rest;
	int n;

	if (!strncmp(in, "/proc/self", 10) && (in[10] == '/' || !in[10])) {
		rest = in + 10;
		n = snprintf(out, size, "/proc/%d%s", c->tid, rest);
	} else if (!strncmp(in, "/proc/thread-self", 17) &&
		   (in[17] == '/' || !in[17])) {
		rest = in + 17;
		n = snprintf(out, size, "/proc/%d/task/%d%s", c->tid, c->tid,
			     rest);
	} else if (!strncmp(in, "/dev/fd/", 8) || !strcmp(in, "/dev/fd")) {
		n = snprintf(out, size, "/proc/%d/fd%s", c->tid, in + 7);
	} else {
		n = snprintf(out, size, "%s", in);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The mount whose mountpoint is path or an ancestor of it. */
static struct sbx_mount *mount_above(struct sbx *sb, const char *path)
{
	struct sbx_mount *best = NULL;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_mount *mt = sb->mounts; mt; mt = mt->next) {
		if (strncmp(path, mt->path, mt->pathlen) ||
		    (path[mt->pathlen] != '/' && path[mt->pathlen] &&
		     mt->pathlen > 1))
			continue;
		if (!best || mt->pathlen > best->pathlen)
			best = mt;
	}
	if (best)
		sbx_mount_get(best);
	pthread_mutex_unlock(&sb->lock);
	return best;
}

/* The mount whose mountpoint the absolute path names first, as the walk
 * component by component would meet it (the shortest), if the path
 * starts with its canonical mountpoint and that still leads to the
 * directory mounted on. The walk to it would find plain directories
 * only (a canonical path has no symlink, ".", ".." or "//"), so this
 * is what it would come to, without a syscall per component. */
static struct sbx_mount *mount_prefix(struct sbx *sb, const char *path)
{
	struct sbx_mount *best = NULL;
	struct stat st;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_mount *mt = sb->mounts; mt; mt = mt->next) {
		if (mt->pathlen < 2 || strncmp(path, mt->path, mt->pathlen) ||
		    (path[mt->pathlen] != '/' && path[mt->pathlen]))
			continue;
		if (!best || mt->pathlen < best->pathlen)
			best = mt;
	}
	if (best)
		sbx_mount_get(best);
	pthread_mutex_unlock(&sb->lock);
	if (best && (lstat(best->path, &st) < 0 ||
		     st.st_dev != best->under_dev ||
		     st.st_ino != best->under_ino)) {
		sbx_mount_put(sb, best);
		best = NULL;
	}
	return best;
}

/* Without allow_other only the mounting user may use a mount, as Linux
 * (root included). */
static int may_use(struct sbx_call *c, struct sbx_mount *mt)
{
	const struct fuse_caller *w;

	if (mt->opts.allow_other)
		return 0;
	w = sbx_who(c);
	if (w->uid != mt->opts.user_id || w->gid != mt->opts.group_id)
		return -EACCES;
	return 0;
}

struct walk {
	char cur[PATH_MAX];	/* canonical native directory */
	char *rest;		/* malloc'd: what is left to walk */
	int links;
	bool left_mount;	/* came out of a mount: see rewrite */
};

static int set_rest(struct walk *w, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *n = malloc(la + 1 + lb + 1);

	if (!n)
		return -ENOMEM;
	memcpy(n, a, la);
	n[la] = '\0';
	if (b && *b) {
		n[la] = '/';
		memcpy(n + la + 1, b, lb + 1);
	}
	free(w->rest);
	w->rest = n;
	return 0;
}

static void cur_parent(char *cur)
{
	char *s = strrchr(cur, '/');

	if (s && s != cur)
		*s = '\0';
	else
		strcpy(cur, "/");
}

static int cur_join(const char *cur, const char *name, size_t len,
		    char *out)
{
	size_t cl = strlen(cur);

	if (cl + 1 + len + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, cur, cl);
	if (cl > 1)
		out[cl++] = '/';
	memcpy(out + cl, name, len);
	out[cl + len] = '\0';
	return 0;
}

/* Walk inside mt from ino (referenced, passed in) along path. Returns 0
 * with t filled, 1 when the walk left the mount (w updated), or an
 * error. */
static int walk_virtual(struct sbx_call *c, struct sbx_mount *mt,
			struct vfs_inode *ino, const char *canon,
			const char *path, int flags, struct sbx_target *t,
			struct walk *w)
{
	struct vfs_walk_ext x = { .escape = true, .canon = t->path,
				  .canon_size = sizeof(t->path) };
	struct vfs_inode *out;
	int err, vflags = 0;

	err = may_use(c, mt);
	if (err)
		goto put;
	sbx_vfile_settle(c->sb);
	if (flags & SBX_FOLLOW)
		vflags |= VFS_FOLLOW;
	vflags |= VFS_EMPTY_PATH;
	snprintf(t->path, sizeof(t->path), "%s", canon);
	err = vfs_walk_ext(mt->fs->m, sbx_who(c), ino, path, vflags, &out, &x);
	if (err == 0) {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s%s",
			 mt->pathlen > 1 ? mt->path : "", t->path);
		snprintf(t->path, sizeof(t->path), "%s", tmp[0] ? tmp : "/");
		t->where = SBX_VIRTUAL;
		t->mnt = mt;
		t->ino = out;
		vfs_inode_put(mt->fs->m, ino);
		return 0;
	}
	if (err == 1) {
		const char *r = x.rest;

		w->left_mount = true;
		if (x.dotdot) {
			snprintf(w->cur, sizeof(w->cur), "%s", mt->path);
			cur_parent(w->cur);
			while (*r == '/')
				r++;
		} else {
			strcpy(w->cur, "/");
		}
		err = set_rest(w, r, NULL);
		free(x.rest);
		if (!err)
			err = 1;
	}
put:
	vfs_inode_put(mt->fs->m, ino);
	sbx_mount_put(c->sb, mt);
	return err;
}

static struct vfs_inode *root_ref(struct sbx_mount *mt)
{
	struct vfs_inode *r = mt->fs->m->root;

	pthread_mutex_lock(&mt->fs->m->lock);
	vfs_inode_get(r);
	pthread_mutex_unlock(&mt->fs->m->lock);
	return r;
}

/* Component by component from w->cur along w->rest. */
static int walk_native(struct sbx_call *c, int flags, struct sbx_target *t,
		       struct walk *w)
{
	char cand[PATH_MAX], link[PATH_MAX];

	for (;;) {
		char *p = w->rest, *end;
		size_t len;
		bool last, must_dir;
		struct sbx_mount *mt;
		struct stat st;
		ssize_t n;
		int err;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		last = true;
		for (char *q = end; *q; q++)
			if (*q != '/')
				last = false;
		must_dir = *end == '/';
		if (len == 1 && p[0] == '.') {
			memmove(w->rest, end, strlen(end) + 1);
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			cur_parent(w->cur);
			memmove(w->rest, end, strlen(end) + 1);
			continue;
		}
		if (cur_join(w->cur, p, len, cand))
			return 0; /* the kernel says ENAMETOOLONG */
		mt = sbx_mount_at(c->sb, cand);
		if (mt) {
			const char *e = end;
			char *r;

			while (*e == '/' && e[1] == '/')
				e++;
			/* Relative to the mount's root; a lone "/" means
			 * the root itself (".": it is a directory). */
			r = strdup(*e != '/' ? e : e[1] ? e + 1 : ".");

			if (!r) {
				sbx_mount_put(c->sb, mt);
				return -ENOMEM;
			}
			err = walk_virtual(c, mt, root_ref(mt), "", r, flags,
					   t, w);
			free(r);
			if (err != 1)
				return err;
			if (++w->links > MAX_LINKS)
				return 0;
			continue;
		}
		if (last && !must_dir && !(flags & SBX_FOLLOW))
			return 0;
		if (lstat(cand, &st) < 0)
			return 0; /* the kernel fails the same way */
		if (S_ISLNK(st.st_mode)) {
			char fixed[PATH_MAX];

			if (++w->links > MAX_LINKS)
				return 0;
			n = readlink(cand, link, sizeof(link) - 1);
			if (n <= 0)
				return 0;
			link[n] = '\0';
			if (link[0] == '/') {
				if (proc_self_fix(c, link, fixed, sizeof(fixed)))
					return 0;
				strcpy(w->cur, "/");
				err = set_rest(w, fixed, end);
			} else {
				err = set_rest(w, link, end);
			}
			if (err)
				return err;
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode))
			return 0;
		strcpy(w->cur, cand);
		memmove(w->rest, end, strlen(end) + 1);
	}
	/* Walked to a native directory that may itself be a mount (a path
	 * such as "/mnt/x/" or "/mnt/x/sub/.." ends here). */
	{
		struct sbx_mount *mt = sbx_mount_at(c->sb, w->cur);

		if (mt) {
			int err = walk_virtual(c, mt, root_ref(mt), "", "",
					       flags, t, w);

			return err == 1 ? 0 : err;
		}
	}
	return 0;
}

/* A descriptor of a vfile named through /proc/PID/fd/N or /dev/fd/N. */
static struct sbx_vfile *proc_fd_vfile(struct sbx_call *c, const char *p,
				       const char **rest)
{
	struct sbx_call other = *c;
	char *end;
	long pid, fd;

	if (strncmp(p, "/proc/", 6))
		return NULL;
	pid = strtol(p + 6, &end, 10);
	if (end == p + 6 || pid <= 0)
		return NULL;
	if (!strncmp(end, "/task/", 6)) {
		pid = strtol(end + 6, &end, 10);
		if (pid <= 0)
			return NULL;
	}
	if (strncmp(end, "/fd/", 4))
		return NULL;
	fd = strtol(end + 4, &end, 10);
	if ((fd < SBX_VFD_LO && fd >= SBX_LOW_HI) || fd < 0 ||
	    fd >= SBX_VFD_HI || (*end && *end != '/'))
		return NULL;
	other.tid = (pid_t)pid;
	*rest = end;
	return sbx_vfile_of(&other, (int)fd);
}

static int start_at_vfile(struct sbx_call *c, struct sbx_vfile *v,
			  const char *path, int flags, struct sbx_target *t,
			  struct walk *w)
{
	struct sbx_mount *mt = v->mnt;
	struct vfs_inode *ino = v->f->inode;
	const char *canon = v->path + (mt->pathlen > 1 ? mt->pathlen : 0);

	sbx_mount_get(mt);
	pthread_mutex_lock(&mt->fs->m->lock);
	vfs_inode_get(ino);
	pthread_mutex_unlock(&mt->fs->m->lock);
	sbx_vfile_put(c->sb, v);
	return walk_virtual(c, mt, ino, canon, path, flags, t, w);
}

int sbx_resolve(struct sbx_call *c, int dirfd, const char *path, int flags,
		struct sbx_target *t)
{
	struct walk w = { .rest = NULL };
	char kpath[PATH_MAX + 64];
	struct sbx_mount *mt;
	struct sbx_vfile *v;
	struct stat st;
	int err, fd;

	t->where = SBX_NATIVE;
	t->mnt = NULL;
	t->ino = NULL;
	t->rewrite = false;
	if (!__atomic_load_n(&c->sb->n_mounts, __ATOMIC_RELAXED))
		return 0;
	if (!*path && !(flags & SBX_EMPTY_PATH))
		return 0; /* ENOENT, from the kernel */

	/* Where the walk starts. */
	if (path[0] == '/') {
		const char *rest;

		if (proc_self_fix(c, path, kpath, sizeof(kpath)))
			return 0;
		v = proc_fd_vfile(c, kpath, &rest);
		if (v) {
			char *r = strdup(rest);

			if (!r) {
				sbx_vfile_put(c->sb, v);
				return -ENOMEM;
			}
			err = start_at_vfile(c, v, r, flags, t, &w);
			free(r);
			if (err != 1)
				return err;
			goto native_walk;
		}
		mt = mount_prefix(c->sb, kpath);
		if (mt) {
			const char *e = kpath + mt->pathlen;

			/* As walk_native goes on from a mountpoint. */
			while (*e == '/' && e[1] == '/')
				e++;
			err = walk_virtual(c, mt, root_ref(mt), "",
					   *e != '/' ? e : e[1] ? e + 1 : ".",
					   flags, t, &w);
			if (err != 1)
				return err;
			goto native_walk;
		}
		strcpy(w.cur, "/");
	} else if (dirfd == AT_FDCWD) {
		struct sbx_cwd *cwd = sbx_cwd_get(c);

		if (cwd) {
			struct sbx_mount *mt = cwd->mnt;
			struct vfs_inode *ino = cwd->ino;
			char canon[PATH_MAX];

			snprintf(canon, sizeof(canon), "%s",
				 cwd->path + (mt->pathlen > 1 ? mt->pathlen : 0));
			sbx_mount_get(mt);
			pthread_mutex_lock(&mt->fs->m->lock);
			vfs_inode_get(ino);
			pthread_mutex_unlock(&mt->fs->m->lock);
			sbx_cwd_put(c->sb, cwd);
			err = walk_virtual(c, mt, ino, canon, path, flags, t,
					   &w);
			if (err != 1)
				return err;
			goto native_walk;
		}
		snprintf(kpath, sizeof(kpath), "/proc/%d/cwd/%s", c->tid, path);
	} else {
		v = sbx_vfile_of(c, dirfd);
		if (v) {
			err = start_at_vfile(c, v, path, flags, t, &w);
			if (err != 1)
				return err;
			goto native_walk;
		}
		snprintf(kpath, sizeof(kpath), "/proc/%d/fd/%d/%s", c->tid,
			 dirfd, path);
		/* AT_EMPTY_PATH without following, as a FUSE server's
		 * fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) for
		 * every LOOKUP: the fast path below would open the magic
		 * link /proc/TID/fd/N itself (a procfs inode, mounted on by
		 * nobody) and find its own path under no mount, so native,
		 * unless a mount sits above /proc. Say so without the four
		 * syscalls. */
		if (!*path && !(flags & SBX_FOLLOW)) {
			char link[64];

			snprintf(link, sizeof(link), "/proc/%d/fd/%d", c->tid,
				 dirfd);
			mt = mount_above(c->sb, link);
			if (!mt)
				return 0;
			sbx_mount_put(c->sb, mt);
		}
	}

	/* Fast path: let the kernel resolve it. */
	if (!*path)
		kpath[strlen(kpath) - 1] = '\0'; /* AT_EMPTY_PATH: the fd */
	fd = open(kpath, O_PATH | O_CLOEXEC |
				 ((flags & SBX_FOLLOW) ? 0 : O_NOFOLLOW));
	if (fd >= 0) {
		char canon[PATH_MAX], fdlink[64];
		ssize_t n;

		if (fstat(fd, &st) == 0) {
			mt = sbx_mount_over(c->sb, st.st_dev, st.st_ino);
			if (mt) {
				close(fd);
				err = walk_virtual(c, mt, root_ref(mt), "", "",
						   flags, t, &w);
				return err == 1 ? 0 : err;
			}
		}
		snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", fd);
		n = readlink(fdlink, canon, sizeof(canon) - 1);
		close(fd);
		if (n <= 0)
			return 0;
		canon[n] = '\0';
		mt = mount_above(c->sb, canon);
		if (!mt)
			return 0;
		/* Native content hidden under a mountpoint: walk it. */
		sbx_mount_put(c->sb, mt);
	}

	/* Slow path. */
	if (path[0] == '/') {
		strcpy(w.cur, "/");
		err = set_rest(&w, kpath, NULL);
	} else {
		char base[64];
		ssize_t n;

		if (dirfd == AT_FDCWD)
			snprintf(base, sizeof(base), "/proc/%d/cwd", c->tid);
		else
			snprintf(base, sizeof(base), "/proc/%d/fd/%d", c->tid,
				 dirfd);
		n = readlink(base, w.cur, sizeof(w.cur) - 1);
		if (n <= 0 || w.cur[0] != '/')
			return 0;
		w.cur[n] = '\0';
		err = set_rest(&w, path, NULL);
	}
	if (err)
		return err;
native_walk:
	err = walk_native(c, flags, t, &w);
	if (!err && t->where == SBX_NATIVE && w.left_mount) {
		size_t l = strlen(w.cur);
		const char *r = w.rest;

		while (*r == '/')
			r++;
		t->rewrite = true;
		if (snprintf(t->path, sizeof(t->path), "%s%s%s", w.cur,
			     *r && l > 1 ? "/" : "", r) >= (int)sizeof(t->path))
			err = -ENAMETOOLONG;
	}
	free(w.rest);
	return err;
}
