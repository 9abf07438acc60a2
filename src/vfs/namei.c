/*
 * namei.c - calls on a name in a directory: the walk to the parent,
 * then MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME(2) with the
 * checks Linux makes before it asks the filesystem (EEXIST, EISDIR,
 * ENOTDIR, EBUSY, the rename loop checks), and the cache upkeep after:
 * new nodes are installed with their entry, removed names are dropped,
 * and whatever the server changed as a side effect (a directory's
 * mtime and link count, a victim's link count) has its attributes
 * expired.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "vfs/vfs.h"

static uint64_t expiry_of(uint64_t now, uint64_t sec, uint32_t nsec)
{
	uint64_t ttl = fuse_timeout_ns(sec, nsec);

	return ttl > UINT64_MAX - now ? UINT64_MAX : now + ttl;
}

int vfs_walk_parent(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *start, const char *path,
		    struct vfs_inode **dir, struct vfs_last *last)
{
	size_t len = strlen(path), end, begin;
	char *parent;
	int err;

	if (!len)
		return -ENOENT;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	end = len;
	while (end > 0 && path[end - 1] == '/')
		end--;
	last->slash = end < len;
	if (end == 0) {
		/* "/" or "///": the root itself. */
		last->type = VFS_LAST_ROOT;
		last->name[0] = '\0';
		pthread_mutex_lock(&m->lock);
		vfs_inode_get(m->root);
		pthread_mutex_unlock(&m->lock);
		*dir = m->root;
		return 0;
	}
	begin = end;
	while (begin > 0 && path[begin - 1] != '/')
		begin--;
	memcpy(last->name, path + begin, end - begin);
	last->name[end - begin] = '\0';
	last->type = !strcmp(last->name, ".")	 ? VFS_LAST_DOT
		     : !strcmp(last->name, "..") ? VFS_LAST_DOTDOT
						 : VFS_LAST_NORM;
	parent = strndup(path, begin);
	if (!parent)
		return -ENOMEM;
	err = vfs_walk(m, who, start, parent, VFS_FOLLOW | VFS_EMPTY_PATH,
		       dir);
	free(parent);
	if (!err && !S_ISDIR((*dir)->type)) {
		vfs_inode_put(m, *dir);
		err = -ENOTDIR;
	}
	return err;
}

void vfs_attr_expire(struct vfs_mount *m, struct vfs_inode *ino)
{
	pthread_mutex_lock(&m->lock);
	ino->attr_expiry = 0;
	pthread_mutex_unlock(&m->lock);
}

/* The server made ino at dir/name (one lookup counted): install it. */
static int install_new(struct vfs_mount *m, struct vfs_inode *dir,
		       const char *name, const struct fuse_entry_out *eo,
		       struct vfs_inode **out)
{
	uint64_t now = vfs_now();
	struct vfs_inode *ino;
	bool isdir;

	pthread_mutex_lock(&m->lock);
	dir->attr_expiry = 0;
	ino = vfs_inode_install(m, eo, now);
	if (!ino) {
		vfs_unlock(m);
		return -EIO;
	}
	if (S_ISDIR(ino->type) && ino->parent != dir) {
		struct vfs_inode *old = ino->parent;

		vfs_inode_get(dir);
		ino->parent = dir;
		vfs_inode_put_locked(m, old);
	}
	vfs_dentry_set(m, dir, name, strlen(name), ino,
		       expiry_of(now, eo->entry_valid, eo->entry_valid_nsec));
	isdir = S_ISDIR(ino->type);
	if (out)
		*out = ino;
	else
		vfs_inode_put_locked(m, ino);
	vfs_unlock(m);
	vfs_fsnotify_dir(m, dir, IN_CREATE, name, isdir, 0);
	return 0;
}

/* The mode a new node is asked for: with DONT_MASK the server applies
 * the umask it is sent, else we apply it here, as Linux. */
static mode_t masked(struct vfs_mount *m, const struct fuse_caller *who,
		     mode_t mode)
{
	if (m->conn->lim.flags & FUSE_DONT_MASK)
		return mode;
	return mode & ~(mode_t)who->umask;
}

/* Linux looks the last name up (may_lookup: search permission on dir)
 * before it asks what kind of name it is: "." and ".." too. Other names
 * are checked by vfs_lookup. */
static int may_lookup_last(struct vfs_mount *m, const struct fuse_caller *who,
			   struct vfs_inode *dir, const struct vfs_last *last)
{
	if (last->type != VFS_LAST_DOT && last->type != VFS_LAST_DOTDOT)
		return 0;
	return vfs_permission(m, who, dir, X_OK);
}

/* Linux's filename_create: the name must not exist. 0 when it is free;
 * then may_create (write and search permission on dir) is the caller's
 * to check, after whatever Linux checks in between. */
static int must_be_free(struct vfs_mount *m, const struct fuse_caller *who,
			struct vfs_inode *dir, const struct vfs_last *last,
			bool want_dir)
{
	struct vfs_inode *ino;
	int err;

	err = may_lookup_last(m, who, dir, last);
	if (err)
		return err;
	if (last->type != VFS_LAST_NORM)
		return -EEXIST;
	err = vfs_lookup(m, who, dir, last->name, &ino);
	if (!err) {
		vfs_inode_put(m, ino);
		return -EEXIST;
	}
	if (err != -ENOENT)
		return err;
	/* "name/" for anything but a directory asks for one that is not
	 * there. */
	if (last->slash && !want_dir)
		return -ENOENT;
	return m->read_only ? -EROFS : 0;
}

static int may_create(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *dir)
{
	return vfs_permission(m, who, dir, W_OK | X_OK);
}

int vfs_mknod(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last, mode_t mode,
	      dev_t rdev, struct vfs_inode **out)
{
	struct fuse_entry_out eo;
	uint32_t dev = (uint32_t)(((major(rdev) & 0xfff) << 8) |
				  (minor(rdev) & 0xff) |
				  ((minor(rdev) & ~0xffu) << 12));
	int err;

	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	err = must_be_free(m, who, dir, last, false);
	if (!err)
		err = may_create(m, who, dir);
	if (err)
		return err;
	/* Devices need CAP_MKNOD (root here), but for a whiteout (0:0). */
	if (((S_ISCHR(mode) && rdev != 0) || S_ISBLK(mode)) && fuse_caller_ids(who)->uid != 0)
		return -EPERM;
	err = fuse_op_mknod(m->conn, who, dir->nodeid, last->name,
			    masked(m, who, mode), dev, who->umask, &eo);
	if (err)
		return err;
	return install_new(m, dir, last->name, &eo, out);
}

int vfs_mkdir(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last, mode_t mode)
{
	struct fuse_entry_out eo;
	int err = must_be_free(m, who, dir, last, true);

	if (!err)
		err = may_create(m, who, dir);
	if (err)
		return err;
	err = fuse_op_mkdir(m->conn, who, dir->nodeid, last->name,
			    masked(m, who, (mode & 07777) | S_IFDIR), who->umask,
			    &eo);
	if (err)
		return err;
	return install_new(m, dir, last->name, &eo, NULL);
}

int vfs_symlink(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *dir, const struct vfs_last *last,
		const char *target)
{
	struct fuse_entry_out eo;
	int err;

	if (!*target)
		return -ENOENT;
	if (strlen(target) >= PATH_MAX)
		return -ENAMETOOLONG;
	err = must_be_free(m, who, dir, last, false);
	if (!err)
		err = may_create(m, who, dir);
	if (err)
		return err;
	err = fuse_op_symlink(m->conn, who, dir->nodeid, last->name, target,
			      &eo);
	if (err)
		return err;
	return install_new(m, dir, last->name, &eo, NULL);
}

int vfs_link(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *ino, struct vfs_inode *dir,
	     const struct vfs_last *last)
{
	struct fuse_entry_out eo;
	int err;

	/* Linux's order: the new name, fs.protected_hardlinks, then
	 * may_create, then the type. */
	err = must_be_free(m, who, dir, last, false);
	if (!err)
		err = vfs_may_link(m, who, ino);
	if (!err)
		err = may_create(m, who, dir);
	if (err)
		return err;
	if (S_ISDIR(ino->type))
		return -EPERM;
	err = fuse_op_link(m->conn, who, ino->nodeid, ino->type, dir->nodeid,
			   last->name, &eo);
	if (err == -ENOSYS)
		err = -EPERM; /* as Linux: no LINK means links are refused */
	if (err)
		return err;
	vfs_attr_expire(m, ino); /* its link count */
	vfs_fsnotify_self(m, ino, IN_ATTRIB);
	/* The link count went up: the reply's attributes say so. */
	return install_new(m, dir, last->name, &eo, NULL);
}

/* The victim lost its name dir/name: its link count is the server's
 * now. Linux's events: IN_ATTRIB for the link count (not for a
 * directory), IN_DELETE_SELF when no link is left unless that name is
 * still in use (then at its last close), then IN_DELETE in the
 * directory. */
static void unlinked(struct vfs_mount *m, struct vfs_inode *dir,
		     const char *name, struct vfs_inode *ino)
{
	bool isdir = S_ISDIR(ino->type), gone, busy;

	pthread_mutex_lock(&m->lock);
	if (ino->attr.nlink)
		ino->attr.nlink--;
	if (isdir)
		ino->attr.nlink = 0;
	ino->attr_expiry = 0;
	busy = vfs_alias_unlinked(ino, dir, name);
	ino->unlinked = ino->attr.nlink == 0;
	gone = ino->unlinked && !busy;
	pthread_mutex_unlock(&m->lock);
	if (!isdir)
		vfs_fsnotify_self(m, ino, IN_ATTRIB);
	if (gone)
		vfs_fsnotify_gone(m, ino);
	vfs_fsnotify_dir(m, dir, IN_DELETE, name, isdir, 0);
}

static void drop_name(struct vfs_mount *m, struct vfs_inode *dir,
		      const char *name)
{
	pthread_mutex_lock(&m->lock);
	vfs_dentry_drop(m, dir, name, strlen(name));
	dir->attr_expiry = 0;
	vfs_unlock(m);
}

int vfs_unlink(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const struct vfs_last *last)
{
	struct vfs_inode *victim;
	int err;

	err = may_lookup_last(m, who, dir, last);
	if (err)
		return err;
	if (last->type != VFS_LAST_NORM)
		return -EISDIR;
	if (m->read_only)
		return -EROFS;
	err = vfs_lookup(m, who, dir, last->name, &victim);
	if (err)
		return err;
	/* "name/": Linux answers from the type, before any permission. */
	if (last->slash)
		err = S_ISDIR(victim->type) ? -EISDIR : -ENOTDIR;
	else
		err = vfs_may_delete(m, who, dir, victim, false);
	if (!err)
		err = fuse_op_unlink(m->conn, who, dir->nodeid, last->name);
	if (!err) {
		drop_name(m, dir, last->name);
		unlinked(m, dir, last->name, victim);
	}
	vfs_inode_put(m, victim);
	return err;
}

int vfs_rmdir(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last)
{
	struct vfs_inode *victim;
	int err = may_lookup_last(m, who, dir, last);

	if (err)
		return err;
	switch (last->type) {
	case VFS_LAST_DOT:
		return -EINVAL;
	case VFS_LAST_DOTDOT:
		return -ENOTEMPTY;
	case VFS_LAST_ROOT:
		return -EBUSY;
	case VFS_LAST_NORM:
		break;
	}
	if (m->read_only)
		return -EROFS;
	err = vfs_lookup(m, who, dir, last->name, &victim);
	if (err)
		return err;
	err = vfs_may_delete(m, who, dir, victim, true);
	if (!err)
		err = fuse_op_rmdir(m->conn, who, dir->nodeid, last->name);
	if (!err) {
		drop_name(m, dir, last->name);
		unlinked(m, dir, last->name, victim);
	}
	vfs_inode_put(m, victim);
	return err;
}

/* a is b or one of b's ancestors (directories know their parent). */
static bool is_ancestor(struct vfs_mount *m, const struct vfs_inode *a,
			const struct vfs_inode *b)
{
	bool found = false;

	pthread_mutex_lock(&m->lock);
	for (; b; b = b->parent) {
		if (a == b) {
			found = true;
			break;
		}
		if (b == m->root)
			break;
	}
	pthread_mutex_unlock(&m->lock);
	return found;
}

static void set_parent(struct vfs_mount *m, struct vfs_inode *ino,
		       struct vfs_inode *dir)
{
	if (!S_ISDIR(ino->type) || ino->parent == dir)
		return;
	vfs_inode_get(dir);
	vfs_inode_put_locked(m, ino->parent);
	ino->parent = dir;
}

/* Linux's order: both lookups, the flag checks, the loop checks; the
 * type checks come later, in may_delete (rename_permission). */
static int rename_checks(struct vfs_mount *m, struct vfs_inode *odir,
			 struct vfs_inode *old, const struct vfs_last *ol,
			 struct vfs_inode *ndir, struct vfs_inode *new,
			 const struct vfs_last *nl, unsigned flags)
{
	bool odir_is = S_ISDIR(old->type);

	if ((flags & RENAME_NOREPLACE) && new)
		return -EEXIST;
	if (flags & RENAME_EXCHANGE) {
		if (!new)
			return -ENOENT;
		if (!S_ISDIR(new->type) && nl->slash)
			return -ENOTDIR;
	}
	if (!odir_is && (ol->slash ||
			 (!(flags & RENAME_EXCHANGE) && nl->slash)))
		return -ENOTDIR;
	if (odir != ndir) {
		if (odir_is && is_ancestor(m, old, ndir))
			return -EINVAL;
		if (new && S_ISDIR(new->type) && is_ancestor(m, new, odir))
			return flags & RENAME_EXCHANGE ? -EINVAL : -ENOTEMPTY;
	}
	if (old == new)
		return 1; /* two names of one node: nothing to do */
	return 0;
}

/* Linux's may_delete/may_create for both ends (the target must be of
 * the source's type, or of its own for RENAME_EXCHANGE), and write
 * permission on a directory that moves to another parent (its ".."
 * changes). */
static int rename_permission(struct vfs_mount *m,
			     const struct fuse_caller *who,
			     struct vfs_inode *odir, struct vfs_inode *old,
			     struct vfs_inode *ndir, struct vfs_inode *new,
			     unsigned flags)
{
	bool is_dir = S_ISDIR(old->type);
	int err = vfs_may_delete(m, who, odir, old, is_dir);

	if (!err && new)
		err = vfs_may_delete(m, who, ndir, new,
				     flags & RENAME_EXCHANGE ?
					     S_ISDIR(new->type) : is_dir);
	else if (!err)
		err = may_create(m, who, ndir);
	if (!err && odir != ndir) {
		if (is_dir)
			err = vfs_permission(m, who, old, W_OK);
		if (!err && new && (flags & RENAME_EXCHANGE) &&
		    S_ISDIR(new->type))
			err = vfs_permission(m, who, new, W_OK);
	}
	return err;
}

/* Linux's fsnotify_move for a rename done: the names (with the
 * inodes' aliases following), then the events, then the replaced
 * node's end. */
static void renamed(struct vfs_mount *m, struct vfs_inode *odir,
		    const char *oname, struct vfs_inode *old,
		    struct vfs_inode *ndir, const char *nname,
		    struct vfs_inode *new, bool new_busy, unsigned flags)
{
	bool exchange = flags & RENAME_EXCHANGE, gone = false;
	uint32_t cookie = vfs_fsnotify_cookie();

	pthread_mutex_lock(&m->lock);
	vfs_alias_moved(old, odir, oname, ndir, nname);
	if (new && exchange)
		vfs_alias_moved(new, ndir, nname, odir, oname);
	else if (new)
		gone = new->unlinked && !new_busy;
	pthread_mutex_unlock(&m->lock);
	vfs_fsnotify_dir(m, odir, IN_MOVED_FROM, oname, S_ISDIR(old->type),
			 cookie);
	vfs_fsnotify_dir(m, ndir, IN_MOVED_TO, nname, S_ISDIR(old->type),
			 cookie);
	if (new && !exchange)
		vfs_fsnotify_self(m, new, IN_ATTRIB);
	vfs_fsnotify_self(m, old, IN_MOVE_SELF);
	if (new && exchange) {
		cookie = vfs_fsnotify_cookie();
		vfs_fsnotify_dir(m, ndir, IN_MOVED_FROM, nname,
				 S_ISDIR(new->type), cookie);
		vfs_fsnotify_dir(m, odir, IN_MOVED_TO, oname,
				 S_ISDIR(new->type), cookie);
		vfs_fsnotify_self(m, new, IN_MOVE_SELF);
	}
	if (gone)
		vfs_fsnotify_gone(m, new);
}

int vfs_rename(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *odir, const struct vfs_last *ol,
	       struct vfs_inode *ndir, const struct vfs_last *nl,
	       unsigned flags)
{
	struct vfs_inode *old = NULL, *new = NULL;
	bool new_busy = false;
	int err;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & RENAME_EXCHANGE) &&
	    (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))
		return -EINVAL;
	err = may_lookup_last(m, who, odir, ol);
	if (!err)
		err = may_lookup_last(m, who, ndir, nl);
	if (err)
		return err;
	if (ol->type != VFS_LAST_NORM)
		return -EBUSY;
	if (nl->type != VFS_LAST_NORM)
		return flags & RENAME_NOREPLACE ? -EEXIST : -EBUSY;
	if (m->read_only)
		return -EROFS;
	err = vfs_lookup(m, who, odir, ol->name, &old);
	if (err)
		return err;
	err = vfs_lookup(m, who, ndir, nl->name, &new);
	if (err == -ENOENT) {
		new = NULL;
		err = 0;
	}
	if (!err)
		err = rename_checks(m, odir, old, ol, ndir, new, nl, flags);
	if (!err)
		err = rename_permission(m, who, odir, old, ndir, new, flags);
	if (!err)
		err = fuse_op_rename(m->conn, who, odir->nodeid, ol->name,
				     ndir->nodeid, nl->name, flags);
	if (!err) {
		pthread_mutex_lock(&m->lock);
		vfs_dentry_drop(m, odir, ol->name, strlen(ol->name));
		vfs_dentry_drop(m, ndir, nl->name, strlen(nl->name));
		odir->attr_expiry = 0;
		ndir->attr_expiry = 0;
		old->attr_expiry = 0; /* ctime */
		set_parent(m, old, ndir);
		if (new && (flags & RENAME_EXCHANGE)) {
			new->attr_expiry = 0;
			set_parent(m, new, odir);
		} else if (new) {
			if (new->attr.nlink)
				new->attr.nlink--;
			if (S_ISDIR(new->type))
				new->attr.nlink = 0;
			new->attr_expiry = 0;
			new_busy = vfs_alias_unlinked(new, ndir, nl->name);
			new->unlinked = new->attr.nlink == 0;
		}
		vfs_unlock(m);
		renamed(m, odir, ol->name, old, ndir, nl->name, new, new_busy,
			flags);
	}
	if (err == 1)
		err = 0;
	if (new)
		vfs_inode_put(m, new);
	vfs_inode_put(m, old);
	return err;
}

int vfs_create(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const struct vfs_last *last, int flags,
	       mode_t mode, struct vfs_file **out)
{
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	struct vfs_inode *ino;
	int err;

	/* The answers before the lookup come after its search permission. */
	err = may_lookup_last(m, who, dir, last);
	if (!err && last->type == VFS_LAST_NORM && last->slash)
		err = vfs_permission(m, who, dir, X_OK);
	if (err)
		return err;
	if (last->type != VFS_LAST_NORM)
		return (flags & O_EXCL) ? -EEXIST : -EISDIR;
	if (last->slash)
		return -EISDIR;
	err = vfs_lookup(m, who, dir, last->name, &ino);
	if (!err) {
		/* It exists: an ordinary open (O_EXCL refuses it). */
		err = (flags & O_EXCL) ? -EEXIST : vfs_open_check(ino, flags);
		if (!err && S_ISLNK(ino->type))
			err = -ELOOP;
		if (!err)
			err = vfs_open(m, who, ino, flags, out);
		vfs_inode_put(m, ino);
		return err;
	}
	if (err != -ENOENT)
		return err;
	if (m->read_only)
		return -EROFS;
	err = may_create(m, who, dir);
	if (err)
		return err;
	mode = (mode & 07777) | S_IFREG;
	err = fuse_op_create(m->conn, who, FUSE_CREATE, dir->nodeid,
			     last->name, flags & ~O_NOCTTY, masked(m, who, mode),
			     who->umask, &eo, &oo);
	if (err == -ENOSYS) {
		/* No CREATE: MKNOD then OPEN, as Linux does. */
		err = vfs_mknod(m, who, dir, last, mode, 0, &ino);
		if (err)
			return err;
		err = vfs_open(m, who, ino,
			       flags & ~(O_CREAT | O_EXCL | O_TRUNC), out);
		vfs_inode_put(m, ino);
		return err;
	}
	if (err)
		return err;
	err = install_new(m, dir, last->name, &eo, &ino);
	if (err) {
		fuse_op_release(m->conn, eo.nodeid, false, oo.fh, flags, 0, 0,
				NULL, NULL);
		return err;
	}
	err = vfs_file_new(m, ino, flags, true, &oo, out);
	vfs_inode_put(m, ino);
	if (!err)
		vfs_file_opened(*out);
	return err;
}

int vfs_open_create(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *start, const char *path, int flags,
		    mode_t mode, struct vfs_file **out)
{
	struct vfs_last *last = malloc(sizeof(*last));
	char *cur = strdup(path), *target = malloc(PATH_MAX);
	struct vfs_inode *base = start, *dir, *ino;
	int links = 0, err;

	pthread_mutex_lock(&m->lock);
	vfs_inode_get(base);
	pthread_mutex_unlock(&m->lock);
	if (!last || !cur || !target) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		err = vfs_walk_parent(m, who, base, cur, &dir, last);
		if (err)
			break;
		vfs_inode_put(m, base);
		base = dir;
		if (last->type != VFS_LAST_NORM || last->slash ||
		    (flags & (O_EXCL | O_NOFOLLOW)))
			break; /* vfs_create has the answer */
		err = vfs_lookup(m, who, dir, last->name, &ino);
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (!err && !S_ISLNK(ino->type)) {
			vfs_inode_put(m, ino);
			break;
		}
		if (err)
			goto out;
		/* O_CREAT through a symlink: made where it points. */
		n = vfs_readlink(m, who, ino, target, PATH_MAX - 1);
		vfs_inode_put(m, ino);
		if (n < 0) {
			err = (int)n;
			goto out;
		}
		if (++links > VFS_MAX_SYMLINKS) {
			err = -ELOOP;
			goto out;
		}
		target[n] = '\0';
		free(cur);
		cur = strdup(target);
		if (!cur) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (!err)
		err = vfs_create(m, who, base, last, flags, mode, out);
out:
	vfs_inode_put(m, base);
	free(target);
	free(cur);
	free(last);
	return err;
}

int vfs_tmpfile(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *dir, int flags, mode_t mode,
		struct vfs_file **out)
{
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	struct vfs_inode *ino;
	int err;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	if (m->read_only)
		return -EROFS;
	err = vfs_permission(m, who, dir, W_OK | X_OK);
	if (err)
		return err;
	if (m->conn->lim.minor < 37)
		return -EOPNOTSUPP;
	/* The nameless file's name on the wire is "/", as Linux's. */
	err = fuse_op_create(m->conn, who, FUSE_TMPFILE, dir->nodeid, "/",
			     flags & ~O_NOCTTY,
			     masked(m, who, (mode & 07777) | S_IFREG),
			     who->umask, &eo, &oo);
	if (err == -ENOSYS)
		return -EOPNOTSUPP;
	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	ino = vfs_inode_install(m, &eo, vfs_now());
	vfs_unlock(m);
	if (!ino) {
		fuse_op_release(m->conn, eo.nodeid, false, oo.fh, flags, 0, 0,
				NULL, NULL);
		return -EIO;
	}
	err = vfs_file_new(m, ino, flags, true, &oo, out);
	vfs_inode_put(m, ino);
	if (!err)
		vfs_file_opened(*out);
	return err;
}
