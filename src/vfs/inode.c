/*
 * inode.c - inodes keyed by nodeid. An inode lives while something refers
 * to it (a dentry, an open file, a walk in progress, a child directory);
 * when the last reference goes it is forgotten: the lookups the server
 * counted for it are sent back in a FORGET.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "vfs/vfs.h"

static size_t ihash(uint64_t nodeid, size_t size)
{
	return (size_t)((nodeid * 0x9E3779B97F4A7C15ull) >> 20) & (size - 1);
}

static void itab_grow(struct vfs_mount *m)
{
	size_t nsize = m->itab_size ? m->itab_size * 2 : 256;
	struct vfs_inode **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return; /* longer chains; still correct */
	for (size_t i = 0; i < m->itab_size; i++) {
		struct vfs_inode *ino, *next;

		for (ino = m->itab[i]; ino; ino = next) {
			size_t b = ihash(ino->nodeid, nsize);

			next = ino->hnext;
			ino->hnext = nt[b];
			nt[b] = ino;
		}
	}
	free(m->itab);
	m->itab = nt;
	m->itab_size = nsize;
}

static struct vfs_inode *ifind(struct vfs_mount *m, uint64_t nodeid)
{
	if (nodeid == FUSE_ROOT_ID)
		return m->root;
	if (!m->itab_size)
		return NULL;
	for (struct vfs_inode *ino = m->itab[ihash(nodeid, m->itab_size)]; ino;
	     ino = ino->hnext)
		if (ino->nodeid == nodeid)
			return ino;
	return NULL;
}

static void iunhash(struct vfs_mount *m, struct vfs_inode *ino)
{
	struct vfs_inode **p;

	if (!ino->hashed)
		return;
	for (p = &m->itab[ihash(ino->nodeid, m->itab_size)]; *p;
	     p = &(*p)->hnext) {
		if (*p == ino) {
			*p = ino->hnext;
			break;
		}
	}
	ino->hashed = false;
	m->n_inodes--;
}

void vfs_forget_queue(struct vfs_mount *m, uint64_t nodeid,
			 uint64_t nlookup)
{
	if (!nlookup)
		return;
	if (m->n_forgets == m->cap_forgets) {
		size_t ncap = m->cap_forgets ? m->cap_forgets * 2 : 16;
		struct fuse_forget_one *nf =
			realloc(m->forgets, ncap * sizeof(*nf));

		if (!nf)
			return; /* the server keeps the node: a leak there */
		m->forgets = nf;
		m->cap_forgets = ncap;
	}
	m->forgets[m->n_forgets].nodeid = nodeid;
	m->forgets[m->n_forgets].nlookup = nlookup;
	m->n_forgets++;
}

void vfs_inode_get(struct vfs_inode *ino)
{
	ino->refs++;
}

void vfs_inode_put_locked(struct vfs_mount *m, struct vfs_inode *ino)
{
	while (ino && --ino->refs == 0) {
		struct vfs_inode *parent = ino->parent;

		iunhash(m, ino);
		if (ino != m->root)
			vfs_forget_queue(m, ino->nodeid, ino->nlookup);
		free(ino->link);
		vfs_locks_free(ino);
		vfs_inotify_inode_free(ino);
		vfs_pc_inode_free(ino);
		free(ino);
		ino = parent; /* drop the child's reference on it */
	}
}

void vfs_inode_put(struct vfs_mount *m, struct vfs_inode *ino)
{
	pthread_mutex_lock(&m->lock);
	vfs_inode_put_locked(m, ino);
	vfs_unlock(m);
}

/* What new attributes of a regular file say about its cached data, as
 * Linux's fuse_change_attributes: a new size cuts the cache there and,
 * unless the server took EXPLICIT_INVAL_DATA, drops it; with
 * AUTO_INVAL_DATA a new mtime drops it too. Our own writes move the
 * cached size first (write.c), so only changes made elsewhere count. */
static void attr_changed_data(struct vfs_inode *ino, const struct fuse_attr *a)
{
	uint64_t flags = ino->mount->conn->lim.flags;
	bool inval = false;

	if (a->size != ino->attr.size) {
		vfs_pc_truncate(ino, a->size);
		inval = !(flags & FUSE_EXPLICIT_INVAL_DATA);
	} else if (flags & FUSE_AUTO_INVAL_DATA) {
		inval = a->mtime != ino->attr.mtime ||
			a->mtimensec != ino->attr.mtimensec;
	}
	if (inval)
		vfs_pc_invalidate(ino, 0, UINT64_MAX);
}

void vfs_attr_set(struct vfs_inode *ino, const struct fuse_attr *a,
		  uint64_t valid, uint32_t valid_nsec, uint64_t now)
{
	uint64_t ttl = fuse_timeout_ns(valid, valid_nsec);
	struct fuse_attr ours;

	bool wb = S_ISREG(ino->type) && vfs_wb_mount(ino->mount);

	/* With writeback caching the file's data and size are ours, as
	 * Linux's client owns them then: once we know the size, the
	 * server's neither changes it nor cuts or drops the cache (our
	 * writes may not have reached it). The times are ours too while
	 * any of them is still on its way. */
	if (wb && ino->attr_known) {
		ours = *a;
		ours.size = ino->attr.size;
		if (vfs_pc_pending(ino)) {
			ours.mtime = ino->attr.mtime;
			ours.mtimensec = ino->attr.mtimensec;
			ours.ctime = ino->attr.ctime;
			ours.ctimensec = ino->attr.ctimensec;
		}
		a = &ours;
	}
	if (S_ISREG(ino->type) && !wb)
		attr_changed_data(ino, a);
	ino->attr_known = true;
	ino->attr = *a;
	ino->attr_expiry = ttl > UINT64_MAX - now ? UINT64_MAX : now + ttl;
	if (ino->attr_expiry == now)
		ino->attr_expiry = 0; /* timeout 0: ask every time */
}

struct vfs_inode *vfs_inode_install(struct vfs_mount *m,
				    const struct fuse_entry_out *e,
				    uint64_t now)
{
	struct vfs_inode *ino = ifind(m, e->nodeid);
	mode_t type = e->attr.mode & S_IFMT;

	if (ino && ino != m->root && ino->type != type) {
		/* The server reused a nodeid for another kind of file:
		 * holders of the old inode keep it; new walks get the new
		 * one. Its lookup count moves with the nodeid. */
		uint64_t n = ino->nlookup;

		iunhash(m, ino);
		ino->nlookup = 0;
		ino = NULL;
		if (n)
			vfs_forget_queue(m, e->nodeid, n);
	}
	if (ino == m->root) {
		vfs_forget_queue(m, e->nodeid, 1);
		return NULL;
	}
	if (!ino) {
		ino = calloc(1, sizeof(*ino));
		if (!ino) {
			vfs_forget_queue(m, e->nodeid, 1);
			return NULL;
		}
		ino->mount = m;
		ino->nodeid = e->nodeid;
		ino->type = type;
		ino->generation = e->generation;
		if (m->n_inodes + 1 > m->itab_size)
			itab_grow(m);
		size_t b = ihash(ino->nodeid, m->itab_size);
		ino->hnext = m->itab[b];
		m->itab[b] = ino;
		ino->hashed = true;
		m->n_inodes++;
	}
	ino->nlookup++;
	ino->refs++;
	vfs_attr_set(ino, &e->attr, e->attr_valid, e->attr_valid_nsec, now);
	return ino;
}

void vfs_fill_stat(struct vfs_mount *m, const struct vfs_inode *ino,
		   struct stat *st)
{
	const struct fuse_attr *a = &ino->attr;
	uint32_t blksize = 4096;

	memset(st, 0, sizeof(*st));
	st->st_dev = m->dev;
	st->st_ino = a->ino;
	st->st_mode = ino->type | (a->mode & 07777);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	/* The wire carries Linux's 32-bit "new" device encoding. */
	st->st_rdev = makedev((a->rdev & 0xfff00) >> 8,
			      (a->rdev & 0xff) | ((a->rdev >> 12) & 0xfff00));
	st->st_size = (off_t)a->size;
	/* Linux keeps blksize as a power of two (i_blkbits). */
	if (a->blksize) {
		blksize = 1;
		while (blksize <= a->blksize / 2)
			blksize <<= 1;
	}
	st->st_blksize = blksize;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim.tv_sec = (time_t)a->atime;
	st->st_atim.tv_nsec = a->atimensec;
	st->st_mtim.tv_sec = (time_t)a->mtime;
	st->st_mtim.tv_nsec = a->mtimensec;
	st->st_ctim.tv_sec = (time_t)a->ctime;
	st->st_ctim.tv_nsec = a->ctimensec;
}

int vfs_getattr(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, struct vfs_file *f, bool force,
		struct stat *st)
{
	struct fuse_attr_out ao;
	uint64_t now = vfs_now(), gen;
	int err;

	pthread_mutex_lock(&m->lock);
	if (!force && ino->attr_expiry > now) {
		if (st)
			vfs_fill_stat(m, ino, st);
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	gen = ino->attr_gen;
	pthread_mutex_unlock(&m->lock);

	/* As Linux: GETATTR_FH only with a regular file's handle. */
	err = fuse_op_getattr(m->conn, who, ino->nodeid,
			      f && f->has_fh && S_ISREG(ino->type) ? &f->fh
								   : NULL,
			      &ao);
	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	if ((ao.attr.mode & S_IFMT) != ino->type) {
		pthread_mutex_unlock(&m->lock);
		fuse_log_bad(m->conn, "GETATTR of node %llu changed its type",
			     (unsigned long long)ino->nodeid);
		return -EIO;
	}
	vfs_attr_set(ino, &ao.attr, ao.attr_valid, ao.attr_valid_nsec, now);
	/* The server invalidated them while this reply was on its way:
	 * use them this once, cache them not. */
	if (ino->attr_gen != gen)
		ino->attr_expiry = 0;
	if (st)
		vfs_fill_stat(m, ino, st);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

struct vfs_inode *vfs_inode_find(struct vfs_mount *m, uint64_t nodeid)
{
	return ifind(m, nodeid);
}
