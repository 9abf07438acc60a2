/*
 * mapping.c - mmap of files on a mount: a memfd holding the file, a copy
 * of what the server has, and write-back of the pages that differ
 * (mapping.h says when, and the locks).
 *
 * Why a copy and not dirty bits: the stores land in pages mapped by
 * another process (fusebox run) or by the program itself (libfusebox),
 * and nothing reports them to us. Comparing with the copy finds every
 * changed byte, whatever wrote it, at the cost of the copy's memory (the
 * mapped file's size, outside the page cache's bound).
 *
 * Several mappings of one inode (under run: one per open file) are kept
 * coherent at their sync points: a write-back applies the bytes it found
 * changed to the inode's other mappings, as a write(2) of them would, and
 * write(2) through the VFS applies its bytes to every mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs.h"

#define MAP_PAGE 4096u
/* Bytes of the memfd compared per step: bounds the bounce buffer. */
#define SYNC_STEP (1024u * 1024)

struct vfs_mapping {
	struct vfs_mapping *next;	/* ino->mappings, under m->lock */
	struct vfs_inode *ino;
	struct vfs_file *f;	/* written back through; ref held */
	unsigned refs;		/* under m->lock */
	bool shared;		/* vfs_map_shared's */
	bool dead;		/* its fill failed (under state_lock) */
	int memfd;		/* our own descriptor of it */
	pthread_mutex_t wb_lock;
	pthread_mutex_t state_lock;
	char *clean;		/* size bytes: what the server has */
	uint64_t size;		/* the memfd's size */
	size_t cap;
	struct fuse_caller who;	/* its maker: for a write-back at its end */
};

int vfs_map_check(const struct vfs_file *f, int prot, int flags)
{
	int acc = f->flags & O_ACCMODE;

	if (f->flags & O_PATH)
		return -EBADF;
	if (!S_ISREG(f->inode->type))
		return -ENODEV;
	/* do_mmap: every mapping reads; a shared one that writes needs a
	 * file open for both. */
	if (acc == O_WRONLY)
		return -EACCES;
	if ((flags & MAP_TYPE) != MAP_PRIVATE && (prot & PROT_WRITE) &&
	    acc != O_RDWR)
		return -EACCES;
	/* Then FUSE's own rule: direct I/O has no page cache to keep a
	 * shared mapping coherent with (the header we build against has
	 * no FUSE_DIRECT_IO_ALLOW_MMAP, so no server can lift it). */
	if ((f->open_flags & FOPEN_DIRECT_IO) &&
	    (flags & MAP_TYPE) != MAP_PRIVATE)
		return -ENODEV;
	return 0;
}

bool vfs_map_any(const struct vfs_inode *ino)
{
	return __atomic_load_n(&ino->mappings, __ATOMIC_RELAXED) != NULL;
}

int vfs_map_fd(const struct vfs_mapping *mp)
{
	return mp->memfd;
}

void vfs_map_ref(struct vfs_mapping *mp)
{
	struct vfs_mount *m = mp->ino->mount;

	pthread_mutex_lock(&m->lock);
	mp->refs++;
	pthread_mutex_unlock(&m->lock);
}

/* Under state_lock: the memfd and the copy are size bytes long; new
 * bytes are zeros in both. */
static int resize(struct vfs_mapping *mp, uint64_t size)
{
	if (size > (uint64_t)SIZE_MAX / 2)
		return -EFBIG;
	if (size > mp->cap) {
		size_t cap = mp->cap ? mp->cap : MAP_PAGE;
		char *p;

		while (cap < size)
			cap *= 2;
		p = realloc(mp->clean, cap);
		if (!p)
			return -ENOMEM;
		mp->clean = p;
		mp->cap = cap;
	}
	if (size != mp->size && ftruncate(mp->memfd, (off_t)size) < 0)
		return -errno;
	if (size > mp->size)
		memset(mp->clean + mp->size, 0, (size_t)(size - mp->size));
	mp->size = size;
	return 0;
}

/* len bytes of buf at off of the memfd: 0 or the error. */
static int memfd_put(struct vfs_mapping *mp, const char *buf, size_t len,
		     uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(mp->memfd, buf + done, len - done,
				   (off_t)(off + done));

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Set while this thread fills a mapping: its reads must not sync the
 * inode's mappings, that one among them (its state_lock is ours). */
static __thread bool filling;

/* Reads the whole file through the VFS into the copy and the memfd;
 * under mp's state_lock. */
static int fill(struct vfs_mapping *mp, const struct fuse_caller *who)
{
	uint64_t off = 0;
	int err = 0;

	filling = true;
	for (;;) {
		ssize_t n;

		err = resize(mp, off + SYNC_STEP);
		if (err)
			break;
		n = vfs_pread_quiet(mp->f, who, mp->clean + off, SYNC_STEP,
				    (off_t)off);
		if (n < 0) {
			err = (int)n;
			break;
		}
		off += (uint64_t)n;
		if (n == 0)
			break;
	}
	filling = false;
	if (!err) {
		/* The clean copy's tail beyond the file is not the file. */
		mp->size = off;
		if (ftruncate(mp->memfd, (off_t)off) < 0)
			err = -errno;
	}
	if (!err)
		err = memfd_put(mp, mp->clean, (size_t)off, 0);
	return err;
}

static struct vfs_mapping *mapping_new(struct vfs_file *f,
				       const struct fuse_caller *who, int memfd)
{
	struct vfs_mapping *mp = calloc(1, sizeof(*mp));

	if (!mp)
		return NULL;
	/* Its own descriptor: the last reference may be dropped by a
	 * sync after the caller has closed theirs. */
	memfd = memfd < 0 ? memfd_create("fusebox-map", MFD_CLOEXEC)
			  : fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	if (memfd < 0) {
		free(mp);
		return NULL;
	}
	mp->memfd = memfd;
	mp->ino = f->inode;
	mp->f = f;
	vfs_file_get(f);
	mp->refs = 1;
	/* Kept for a write-back at the end, maybe on another thread: with
	 * its ids read now, by their owner. */
	mp->who = *fuse_caller_ids(who);
	pthread_mutex_init(&mp->wb_lock, NULL);
	pthread_mutex_init(&mp->state_lock, NULL);
	return mp;
}

static void mapping_free(struct vfs_mapping *mp)
{
	vfs_file_put(mp->f);
	close(mp->memfd);
	pthread_mutex_destroy(&mp->wb_lock);
	pthread_mutex_destroy(&mp->state_lock);
	free(mp->clean);
	free(mp);
}

static bool file_writable(const struct vfs_file *f)
{
	return (f->flags & O_ACCMODE) != O_RDONLY;
}

static struct vfs_mapping *find_shared(struct vfs_inode *ino)
{
	for (struct vfs_mapping *mp = ino->mappings; mp; mp = mp->next)
		if (mp->shared) {
			mp->refs++;
			return mp;
		}
	return NULL;
}

static void unref(struct vfs_mapping *mp, const struct fuse_caller *who,
		  int *err);

/* A new mapping of f's inode, linked (or, with shared, the inode's
 * shared one when there is one already), filled. It is linked before
 * it is filled, under its state_lock: what another mapping of the inode
 * writes back meanwhile is applied to it after the fill, never lost
 * between a fill and a link. */
static int make(struct vfs_file *f, const struct fuse_caller *who,
		int memfd, bool shared, struct vfs_mapping **out)
{
	struct vfs_mount *m = f->m;
	struct vfs_mapping *mp, *other = NULL;
	int err;

	/* What the other mappings hold is on the server before the fill
	 * reads it; what they store later reaches this one when they
	 * sync. */
	vfs_map_sync_inode(f->inode, who, 0, UINT64_MAX);
	mp = mapping_new(f, who, memfd);
	if (!mp)
		return -ENOMEM;
	mp->shared = shared;
	pthread_mutex_lock(&mp->state_lock);
	pthread_mutex_lock(&m->lock);
	if (shared)
		other = find_shared(f->inode);
	if (!other) {
		mp->next = f->inode->mappings;
		__atomic_store_n(&f->inode->mappings, mp, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&m->lock);
	if (other) {
		pthread_mutex_unlock(&mp->state_lock);
		mapping_free(mp);
		/* Its maker may still be filling it. */
		pthread_mutex_lock(&other->state_lock);
		err = other->dead ? -EIO : 0;
		pthread_mutex_unlock(&other->state_lock);
		if (err) {
			unref(other, who, NULL);
			return err;
		}
		*out = other;
		return 0;
	}
	err = fill(mp, who);
	if (err)
		mp->dead = true; /* nothing in it may be written back */
	pthread_mutex_unlock(&mp->state_lock);
	if (err) {
		unref(mp, who, NULL);
		return err;
	}
	*out = mp;
	return 0;
}

int vfs_map_attach(struct vfs_file *f, const struct fuse_caller *who,
		   int memfd, struct vfs_mapping **out)
{
	return make(f, who, memfd, false, out);
}

int vfs_map_shared(struct vfs_file *f, const struct fuse_caller *who,
		   struct vfs_mapping **out)
{
	struct vfs_mapping *mp;
	int err = make(f, who, -1, true, &mp);

	if (err)
		return err;
	if (file_writable(f)) {
		/* Stores can come now: write back through a file that
		 * may write. */
		struct vfs_file *old = NULL;

		pthread_mutex_lock(&mp->wb_lock);
		if (!file_writable(mp->f)) {
			vfs_file_get(f);
			old = mp->f;
			mp->f = f;
		}
		pthread_mutex_unlock(&mp->wb_lock);
		if (old)
			vfs_file_put(old);
	}
	*out = mp;
	return 0;
}

/* The changed bytes of [off, off+len) of src (now on the server) go to
 * the inode's other mappings, as a write(2) of them would. */
static void propagate(struct vfs_mapping *src, const char *now,
		      const char *was, size_t len, uint64_t off);

static bool alone(struct vfs_mapping *mp)
{
	struct vfs_mount *m = mp->ino->mount;
	bool one;

	pthread_mutex_lock(&m->lock);
	one = mp->ino->mappings == mp && !mp->next;
	pthread_mutex_unlock(&m->lock);
	return one;
}

/* WRITEs the dirty run now (len bytes at off, was: the clean copy's)
 * and records it clean. The inode's only mapping writes the run whole.
 * With others, exactly the bytes that changed go: a byte this mapping
 * did not change may be stale here, changed meanwhile through another
 * mapping whose own write-back is under way, and must not be written
 * over it. */
static int write_run(struct vfs_mapping *mp, const struct fuse_caller *who,
		     const char *now, const char *was, size_t len,
		     uint64_t off)
{
	bool exact = !alone(mp);

	for (size_t i = 0; i < len;) {
		size_t j;
		ssize_t w;

		if (exact) {
			while (i < len && now[i] == was[i])
				i++;
			j = i;
			while (j < len && now[j] != was[j])
				j++;
			if (j == i)
				break;
		} else {
			j = len;
		}
		w = vfs_write_stores(mp->f, who, now + i, j - i, off + i);
		if (w < 0 || (size_t)w < j - i)
			return w < 0 ? (int)w : -EIO;
		pthread_mutex_lock(&mp->state_lock);
		if (off + j <= mp->size)
			memcpy(mp->clean + off + i, now + i, j - i);
		pthread_mutex_unlock(&mp->state_lock);
		i = j;
	}
	return 0;
}

/* One step of a sync: compares [off, off+len) of the memfd with the
 * copy and writes back the dirty pages. */
static int sync_step(struct vfs_mapping *mp, const struct fuse_caller *who,
		     char *buf, uint64_t off, size_t len)
{
	ssize_t got = pread(mp->memfd, buf, len, (off_t)off);
	size_t n;

	if (got < 0)
		return -errno;
	n = (size_t)got;
	for (size_t p = 0; p < n;) {
		size_t run_end, plen;
		char *was;
		int err;

		pthread_mutex_lock(&mp->state_lock);
		if (mp->dead || off + p >= mp->size) {
			pthread_mutex_unlock(&mp->state_lock);
			break;
		}
		if (n > mp->size - off)
			n = (size_t)(mp->size - off);
		/* The next run of dirty pages. */
		while (p < n) {
			plen = n - p < MAP_PAGE ? n - p : MAP_PAGE;
			if (memcmp(buf + p, mp->clean + off + p, plen))
				break;
			p += plen;
		}
		run_end = p;
		while (run_end < n) {
			plen = n - run_end < MAP_PAGE ? n - run_end : MAP_PAGE;
			if (!memcmp(buf + run_end, mp->clean + off + run_end,
				    plen))
				break;
			run_end += plen;
		}
		was = run_end > p ? malloc(run_end - p) : NULL;
		if (was)
			memcpy(was, mp->clean + off + p, run_end - p);
		pthread_mutex_unlock(&mp->state_lock);
		if (run_end == p)
			break;
		if (!was)
			return -ENOMEM;
		err = write_run(mp, who, buf + p, was, run_end - p, off + p);
		if (err) {
			free(was);
			return err;
		}
		propagate(mp, buf + p, was, run_end - p, off + p);
		free(was);
		p = run_end;
	}
	return 0;
}

int vfs_map_sync(struct vfs_mapping *mp, const struct fuse_caller *who,
		 uint64_t off, uint64_t end)
{
	char *buf;
	int err = 0;

	off &= ~(uint64_t)(MAP_PAGE - 1);
	buf = malloc(SYNC_STEP);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&mp->wb_lock);
	for (;;) {
		uint64_t size, step;

		pthread_mutex_lock(&mp->state_lock);
		size = mp->size;
		pthread_mutex_unlock(&mp->state_lock);
		if (off >= size || off >= end)
			break;
		step = size - off < SYNC_STEP ? size - off : SYNC_STEP;
		err = sync_step(mp, who, buf, off, (size_t)step);
		if (err)
			break;
		off += step;
	}
	pthread_mutex_unlock(&mp->wb_lock);
	free(buf);
	return err;
}

/* References to ino's mappings (NULL-terminated, malloc'd). */
static struct vfs_mapping **mappings_of(struct vfs_inode *ino)
{
	struct vfs_mount *m = ino->mount;
	struct vfs_mapping **all;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	for (struct vfs_mapping *mp = ino->mappings; mp; mp = mp->next)
		n++;
	all = calloc(n + 1, sizeof(*all));
	n = 0;
	for (struct vfs_mapping *mp = ino->mappings; all && mp; mp = mp->next) {
		mp->refs++;
		all[n++] = mp;
	}
	pthread_mutex_unlock(&m->lock);
	return all;
}


static void put_all(struct vfs_mapping **all, const struct fuse_caller *who)
{
	for (size_t i = 0; all && all[i]; i++)
		unref(all[i], who, NULL);
	free(all);
}

int vfs_map_sync_inode(struct vfs_inode *ino, const struct fuse_caller *who,
		       uint64_t off, uint64_t end)
{
	struct vfs_mapping **all;
	int err = 0;

	if (!vfs_map_any(ino) || filling)
		return 0;
	all = mappings_of(ino);
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; all[i]; i++) {
		int e = vfs_map_sync(all[i], who, off, end);

		if (e && !err)
			err = e;
	}
	put_all(all, who);
	return err;
}

/* Under mp's state_lock: buf is at off on the server now. */
static void apply_one(struct vfs_mapping *mp, const char *buf, size_t len,
		      uint64_t off)
{
	if (mp->dead)
		return;
	if (off + len > mp->size && resize(mp, off + len))
		return; /* no memory: the mapping shows the old bytes */
	memcpy(mp->clean + off, buf, len);
	memfd_put(mp, buf, len, off);
}

static void apply_except(struct vfs_inode *ino, struct vfs_mapping *skip,
			 const char *buf, size_t len, uint64_t off)
{
	struct vfs_mapping **all = mappings_of(ino);

	for (size_t i = 0; all && all[i]; i++) {
		if (all[i] == skip)
			continue;
		pthread_mutex_lock(&all[i]->state_lock);
		apply_one(all[i], buf, len, off);
		pthread_mutex_unlock(&all[i]->state_lock);
	}
	put_all(all, NULL);
}

static void propagate(struct vfs_mapping *src, const char *now,
		      const char *was, size_t len, uint64_t off)
{
	size_t i = 0;

	while (i < len) {
		size_t j;

		while (i < len && now[i] == was[i])
			i++;
		j = i;
		while (j < len && now[j] != was[j])
			j++;
		if (j > i)
			apply_except(src->ino, src, now + i, j - i, off + i);
		i = j;
	}
}

void vfs_map_apply(struct vfs_inode *ino, const void *buf, size_t len,
		   uint64_t off)
{
	if (vfs_map_any(ino))
		apply_except(ino, NULL, buf, len, off);
}

void vfs_map_truncate(struct vfs_inode *ino, uint64_t size)
{
	struct vfs_mapping **all;

	if (!vfs_map_any(ino))
		return;
	all = mappings_of(ino);
	for (size_t i = 0; all && all[i]; i++) {
		pthread_mutex_lock(&all[i]->state_lock);
		resize(all[i], size);
		pthread_mutex_unlock(&all[i]->state_lock);
	}
	put_all(all, NULL);
}

void vfs_map_zero(struct vfs_inode *ino, uint64_t off, uint64_t end)
{
	struct vfs_mapping **all;

	if (!vfs_map_any(ino) || end <= off)
		return;
	all = mappings_of(ino);
	for (size_t i = 0; all && all[i]; i++) {
		struct vfs_mapping *mp = all[i];

		pthread_mutex_lock(&mp->state_lock);
		if (off < mp->size) {
			uint64_t e = end < mp->size ? end : mp->size;
			char *zeros = calloc(1, (size_t)(e - off));

			if (zeros)
				apply_one(mp, zeros, (size_t)(e - off), off);
			free(zeros);
		}
		pthread_mutex_unlock(&mp->state_lock);
	}
	put_all(all, NULL);
}

/* Drops a reference; the last one writes back what is dirty (err gets
 * its result when asked) and frees the mapping. */
static void unref(struct vfs_mapping *mp, const struct fuse_caller *who,
		  int *err)
{
	struct vfs_mount *m = mp->ino->mount;
	bool last;
	int e;

	pthread_mutex_lock(&m->lock);
	last = --mp->refs == 0;
	if (last) {
		struct vfs_mapping **pp = &mp->ino->mappings;

		while (*pp && *pp != mp)
			pp = &(*pp)->next;
		if (*pp)
			*pp = mp->next;
	}
	pthread_mutex_unlock(&m->lock);
	if (!last)
		return;
	/* Out of the list, so nothing applies to it any more: what the
	 * memfd holds now is final. */
	e = vfs_map_sync(mp, who ? who : &mp->who, 0, UINT64_MAX);
	if (e)
		fuse_log_bad(m->conn, "write-back of a mapping of node %llu "
			     "failed (errno %d): its dirty pages are lost",
			     (unsigned long long)mp->ino->nodeid, -e);
	if (err)
		*err = e;
	mapping_free(mp);
}

int vfs_map_put(struct vfs_mapping *mp, const struct fuse_caller *who)
{
	int err = 0;

	unref(mp, who, &err);
	return err;
}
