/*
 * dentry.c - the dentry cache: (directory, name) -> inode or "no such
 * name", each valid until its entry timeout. Unused dentries are kept in
 * LRU order and dropped beyond max_dentries; dropping one releases its
 * inode, which may forget it.
 *
 * All functions run with m->lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs.h"

static uint64_t dhash(const struct vfs_inode *dir, const char *name,
		      size_t len)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)dir;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void lru_unlink(struct vfs_dentry *d)
{
	d->lru_prev->lru_next = d->lru_next;
	d->lru_next->lru_prev = d->lru_prev;
}

static void lru_push(struct vfs_mount *m, struct vfs_dentry *d)
{
	d->lru_next = m->lru.lru_next;
	d->lru_prev = &m->lru;
	m->lru.lru_next->lru_prev = d;
	m->lru.lru_next = d;
}

static struct vfs_dentry **dslot(struct vfs_mount *m, struct vfs_inode *dir,
				 const char *name, size_t len, uint64_t h)
{
	struct vfs_dentry **p;

	if (!m->dtab_size)
		return NULL;
	for (p = &m->dtab[h & (m->dtab_size - 1)]; *p; p = &(*p)->hnext) {
		struct vfs_dentry *d = *p;

		if (d->hash == h && d->dir == dir && d->namelen == len &&
		    !memcmp(d->name, name, len))
			return p;
	}
	return NULL;
}

static void dtab_grow(struct vfs_mount *m)
{
	size_t nsize = m->dtab_size ? m->dtab_size * 2 : 256;
	struct vfs_dentry **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return;
	for (size_t i = 0; i < m->dtab_size; i++) {
		struct vfs_dentry *d, *next;

		for (d = m->dtab[i]; d; d = next) {
			next = d->hnext;
			d->hnext = nt[d->hash & (nsize - 1)];
			nt[d->hash & (nsize - 1)] = d;
		}
	}
	free(m->dtab);
	m->dtab = nt;
	m->dtab_size = nsize;
}

static void dfree(struct vfs_mount *m, struct vfs_dentry **slot)
{
	struct vfs_dentry *d = *slot;

	*slot = d->hnext;
	lru_unlink(d);
	m->n_dentries--;
	vfs_inode_put_locked(m, d->inode);
	vfs_inode_put_locked(m, d->dir);
	free(d);
}

static void alias_set(const struct vfs_inode *dir, const char *name,
		      size_t namelen, struct vfs_inode *ino);

int vfs_dentry_find(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, uint64_t now,
		    struct vfs_inode **out)
{
	uint64_t h = dhash(dir, name, namelen);
	struct vfs_dentry **p = dslot(m, dir, name, namelen, h);
	struct vfs_dentry *d;

	if (!p)
		return -1;
	d = *p;
	if (d->expiry <= now)
		return -1;
	lru_unlink(d);
	lru_push(m, d);
	if (!d->inode)
		return 0;
	vfs_inode_get(d->inode);
	*out = d->inode;
	/* The name used last is the one its events go under (Linux uses
	 * the dentry a file was opened by; with hard links used at once,
	 * the last walk wins here). */
	if (d->inode->alias_name && d->inode != m->root)
		alias_set(dir, name, namelen, d->inode);
	return 1;
}

/* The name ino was last reached by (m->lock held): inotify reports its
 * events to that directory's watches under it. */
static void alias_set(const struct vfs_inode *dir, const char *name,
		      size_t namelen, struct vfs_inode *ino)
{
	char *copy;

	if (ino->alias_name && ino->alias_dir == dir->nodeid &&
	    !ino->alias_unlinked && strlen(ino->alias_name) == namelen &&
	    !memcmp(ino->alias_name, name, namelen))
		return;
	copy = strndup(name, namelen);
	if (!copy)
		return;
	free(ino->alias_name);
	ino->alias_name = copy;
	ino->alias_dir = dir->nodeid;
	ino->alias_unlinked = false;
}

void vfs_alias_set(struct vfs_inode *ino, const struct vfs_inode *dir,
		   const char *name)
{
	alias_set(dir, name, strlen(name), ino);
}

void vfs_alias_unlinked(struct vfs_inode *ino, const struct vfs_inode *dir,
			const char *name)
{
	if (ino->alias_name && ino->alias_dir == dir->nodeid &&
	    !strcmp(ino->alias_name, name))
		ino->alias_unlinked = true;
}

void vfs_dentry_set(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, struct vfs_inode *ino,
		    uint64_t expiry)
{
	uint64_t h = dhash(dir, name, namelen);
	struct vfs_dentry **p = dslot(m, dir, name, namelen, h);
	struct vfs_dentry *d;

	if (ino && ino != m->root)
		alias_set(dir, name, namelen, ino);

	if (p) {
		d = *p;
		if (ino)
			vfs_inode_get(ino);
		vfs_inode_put_locked(m, d->inode);
		d->inode = ino;
		d->expiry = expiry;
		lru_unlink(d);
		lru_push(m, d);
		return;
	}
	d = malloc(sizeof(*d) + namelen + 1);
	if (!d)
		return; /* not cached: the next walk asks again */
	memcpy(d->name, name, namelen);
	d->name[namelen] = '\0';
	d->namelen = namelen;
	d->hash = h;
	d->dir = dir;
	vfs_inode_get(dir);
	d->inode = ino;
	if (ino)
		vfs_inode_get(ino);
	d->expiry = expiry;
	if (m->n_dentries + 1 > m->dtab_size)
		dtab_grow(m);
	d->hnext = m->dtab[h & (m->dtab_size - 1)];
	m->dtab[h & (m->dtab_size - 1)] = d;
	lru_push(m, d);
	m->n_dentries++;
	vfs_dentry_evict(m);
}

void vfs_dentry_drop(struct vfs_mount *m, struct vfs_inode *dir,
		     const char *name, size_t namelen)
{
	struct vfs_dentry **p =
		dslot(m, dir, name, namelen, dhash(dir, name, namelen));

	if (p)
		dfree(m, p);
}

int vfs_dentry_peek(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, struct vfs_inode **ino)
{
	struct vfs_dentry **p =
		dslot(m, dir, name, namelen, dhash(dir, name, namelen));

	if (!p)
		return 0;
	*ino = (*p)->inode;
	return 1;
}

void vfs_dentry_expire(struct vfs_mount *m, struct vfs_inode *dir,
		       const char *name, size_t namelen)
{
	struct vfs_dentry **p =
		dslot(m, dir, name, namelen, dhash(dir, name, namelen));

	if (p)
		(*p)->expiry = 0;
}

void vfs_dentry_evict(struct vfs_mount *m)
{
	while (m->n_dentries > m->max_dentries) {
		struct vfs_dentry *d = m->lru.lru_prev;
		struct vfs_dentry **p = dslot(m, d->dir, d->name, d->namelen,
					      d->hash);

		dfree(m, p);
	}
}

void vfs_dentry_clear(struct vfs_mount *m)
{
	while (m->n_dentries) {
		struct vfs_dentry *d = m->lru.lru_prev;

		dfree(m, dslot(m, d->dir, d->name, d->namelen, d->hash));
	}
}
