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
	/* The name walked last is the one the events of calls by path go
	 * under (an open file's go under the name it was opened by). */
	if (d->inode != m->root)
		alias_set(dir, name, namelen, d->inode);
	return 1;
}

static bool alias_is(const struct vfs_alias *a, uint64_t dir,
		     const char *name, size_t namelen)
{
	return !a->unlinked && a->dir == dir && strlen(a->name) == namelen &&
	       !memcmp(a->name, name, namelen);
}

void vfs_alias_put(struct vfs_inode *ino, struct vfs_alias *a)
{
	if (!a || --a->refs)
		return;
	for (struct vfs_alias **p = &ino->aliases; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	free(a->name);
	free(a);
}

/* ino was reached as dir/name (m->lock held): that alias, found among
 * its names or made, is the one its events go under. */
static void alias_set(const struct vfs_inode *dir, const char *name,
		      size_t namelen, struct vfs_inode *ino)
{
	struct vfs_alias *a;

	if (ino->alias && alias_is(ino->alias, dir->nodeid, name, namelen))
		return;
	for (a = ino->aliases; a; a = a->next)
		if (alias_is(a, dir->nodeid, name, namelen))
			break;
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a || !(a->name = strndup(name, namelen))) {
			free(a);
			return;
		}
		a->dir = dir->nodeid;
		a->next = ino->aliases;
		ino->aliases = a;
	}
	a->refs++;
	vfs_alias_put(ino, ino->alias);
	ino->alias = a;
}

void vfs_alias_moved(struct vfs_inode *ino, const struct vfs_inode *odir,
		     const char *oname, const struct vfs_inode *ndir,
		     const char *nname)
{
	/* As Linux's d_move: whoever holds the old name holds the new. */
	for (struct vfs_alias *a = ino->aliases; a; a = a->next) {
		char *copy;

		if (!alias_is(a, odir->nodeid, oname, strlen(oname)) ||
		    !(copy = strdup(nname)))
			continue;
		free(a->name);
		a->name = copy;
		a->dir = ndir->nodeid;
	}
	alias_set(ndir, nname, strlen(nname), ino);
}

/* Whether an open file holds ino's name a (Linux: its dentry is in use);
 * the inode's own reference to the name walked last does not count. */
static bool alias_busy(const struct vfs_inode *ino, const struct vfs_alias *a)
{
	return a->refs > (ino->alias == a ? 1u : 0u);
}

/* Whether Linux still holds a dentry of ino: its name a (any of its names
 * when a is NULL) is open, or ino is a directory with a name below it in
 * use, which keeps its parent's dentry. Only watched directories are
 * looked below (all that depends on it is their IN_DELETE_SELF), and
 * only so deep (a server's renames could make a loop). */
static bool in_use(const struct vfs_inode *ino, const struct vfs_alias *a,
		   int depth)
{
	const struct vfs_mount *m = ino->mount;

	for (const struct vfs_alias *b = ino->aliases; b; b = b->next)
		if ((!a || a == b) && alias_busy(ino, b))
			return true;
	if (!S_ISDIR(ino->type) || depth > 16 || (!depth && !ino->watches))
		return false;
	for (size_t i = 0; i < m->itab_size; i++)
		for (const struct vfs_inode *c = m->itab[i]; c; c = c->hnext)
			for (const struct vfs_alias *b = c->aliases; b;
			     b = b->next)
				if (b->dir == ino->nodeid && c != ino &&
				    in_use(c, b, depth + 1))
					return true;
	return false;
}

bool vfs_alias_unlinked(struct vfs_inode *ino, const struct vfs_inode *dir,
			const char *name)
{
	bool busy = false;

	for (struct vfs_alias *a = ino->aliases; a; a = a->next)
		if (alias_is(a, dir->nodeid, name, strlen(name))) {
			a->unlinked = true;
			busy = busy || in_use(ino, a, 0);
		}
	return busy;
}

size_t vfs_alias_release(struct vfs_inode *ino, struct vfs_alias *a,
			 struct vfs_inode **gone, size_t max)
{
	struct vfs_mount *m = ino->mount;
	size_t n = 0;
	uint64_t dir;

	if (!a)
		return 0;
	if (!a->unlinked || a->refs > (ino->alias == a ? 2u : 1u)) {
		vfs_alias_put(ino, a);
		return 0;
	}
	/* The last open file of a removed name: Linux's dput kills the
	 * dentry, then its parent's if that was removed and kept only by
	 * it, and so up. */
	dir = a->dir;
	vfs_alias_put(ino, a);
	/* ino->unlinked: its last link went through us. (Linux tests the
	 * link count it holds at this moment, which a server that still
	 * counts a link to an unlinked open file - fuse-overlayfs - may
	 * have set again by a GETATTR or not: then no IN_DELETE_SELF ever
	 * comes. The unlink decides here.) */
	if (ino->unlinked && (!S_ISDIR(ino->type) || !in_use(ino, NULL, 0))) {
		vfs_inode_get(ino);
		gone[n++] = ino;
	}
	while (n < max) {
		struct vfs_inode *p = vfs_inode_find(m, dir);

		if (!p || !S_ISDIR(p->type) || !p->unlinked || !p->alias ||
		    in_use(p, NULL, 1))
			break;
		vfs_inode_get(p);
		gone[n++] = p;
		dir = p->alias->dir;
	}
	return n;
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
