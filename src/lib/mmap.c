/*
 * mmap.c - fb_mmap, fb_msync, fb_munmap: files of a libfusebox mount
 * mapped into the program's memory.
 *
 * Each inode has one mapping in the VFS (vfs_map_shared: a memfd holding
 * the file) that every fb_mmap of it maps, so all of a program's
 * mappings of a file, and its fb_read/fb_write calls, see the same
 * bytes. Stores reach the server at fb_msync, fb_fsync, an fb_read of the
 * range, and when the last region mapping the inode is unmapped (or at
 * fb_unmount). The regions are kept here, to find the mapping of an
 * address.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "lib/fs.h"

struct fb_region {
	struct fb_region *next;
	uintptr_t start, end;	/* page-aligned */
	uint64_t off;		/* file offset of start */
	struct vfs_mapping *mp;	/* referenced */
};

#define PAGE 4096u

static uintptr_t page_up(uintptr_t x)
{
	return (x + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
}

/* Under map_lock: [a, b) is no longer mapped by regions of ours. The
 * regions that go entirely are put on *dead, to be dropped unlocked. */
static int forget_range(struct fb_fs *fs, uintptr_t a, uintptr_t b,
			struct fb_region **dead)
{
	for (struct fb_region **pp = &fs->regions; *pp;) {
		struct fb_region *r = *pp;

		if (r->end <= a || r->start >= b) {
			pp = &r->next;
		} else if (r->start >= a && r->end <= b) {
			*pp = r->next;
			r->next = *dead;
			*dead = r;
		} else if (r->start < a && r->end > b) {
			/* A hole in the middle: two regions now. */
			struct fb_region *tail = calloc(1, sizeof(*tail));

			if (!tail)
				return -ENOMEM;
			*tail = *r;
			tail->start = b;
			tail->off = r->off + (b - r->start);
			r->end = a;
			vfs_map_ref(r->mp);
			tail->next = r->next;
			r->next = tail;
			pp = &tail->next;
		} else if (r->start < a) {
			r->end = a;
			pp = &r->next;
		} else {
			r->off += b - r->start;
			r->start = b;
			pp = &r->next;
		}
	}
	return 0;
}

/* Drops the regions of dead: the last of an inode's writes back. */
static int drop(struct fb_region *dead, const struct fuse_caller *who)
{
	int err = 0;

	while (dead) {
		struct fb_region *n = dead->next;
		int e = vfs_map_put(dead->mp, who);

		if (e && !err)
			err = e;
		free(dead);
		dead = n;
	}
	return err;
}

static int impl_fb_mmap(struct fb_fs *fs, int fd, void *addr, size_t len,
			int prot, int flags, off_t off, void **out)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fb_region *r, *dead = NULL;
	struct vfs_mapping *mp = NULL;
	struct fuse_caller who;
	void *p;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if ((flags & MAP_ANONYMOUS) || !len || off < 0 || (off & (PAGE - 1)))
		err = -EINVAL;
	else
		err = vfs_map_check(f, prot, flags);
	if (!err)
		err = vfs_map_shared(f, &who, &mp);
	vfs_file_put(f);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r) {
		vfs_map_put(mp, &who);
		return -ENOMEM;
	}
	p = mmap(addr, len, prot, flags, vfs_map_fd(mp), off);
	if (p == MAP_FAILED) {
		err = -errno;
		free(r);
		vfs_map_put(mp, &who);
		return err;
	}
	r->start = (uintptr_t)p;
	r->end = page_up((uintptr_t)p + len);
	r->off = (uint64_t)off;
	r->mp = mp;
	pthread_mutex_lock(&fs->map_lock);
	/* MAP_FIXED replaced whatever was mapped there. */
	err = forget_range(fs, r->start, r->end, &dead);
	r->next = fs->regions;
	fs->regions = r;
	pthread_mutex_unlock(&fs->map_lock);
	drop(dead, &who);
	*out = p;
	return err;
}

static int impl_fb_munmap(struct fb_fs *fs, void *addr, size_t len)
{
	struct fb_region *dead = NULL;
	struct fuse_caller who;
	uintptr_t a = (uintptr_t)addr;
	int err, e;

	if (munmap(addr, len) < 0)
		return -errno;
	fb_caller(&who, 0);
	pthread_mutex_lock(&fs->map_lock);
	err = forget_range(fs, a, page_up(a + len), &dead);
	pthread_mutex_unlock(&fs->map_lock);
	e = drop(dead, &who);
	return err ? err : e;
}

struct sync_job {
	struct vfs_mapping *mp;
	uint64_t from, to;
};

static int impl_fb_msync(struct fb_fs *fs, void *addr, size_t len,
			 int flags)
{
	uintptr_t a = (uintptr_t)addr, b = page_up(a + len);
	struct sync_job *jobs = NULL;
	struct fuse_caller who;
	size_t n = 0, cap = 0;
	int err = 0;

	/* The kernel checks the arguments (EINVAL, ENOMEM, EBUSY). */
	if (msync(addr, len, flags) < 0)
		return -errno;
	fb_caller(&who, 0);
	pthread_mutex_lock(&fs->map_lock);
	for (struct fb_region *r = fs->regions; r && !err; r = r->next) {
		if (r->end <= a || r->start >= b)
			continue;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 8;
			struct sync_job *j = realloc(jobs, c2 * sizeof(*j));

			if (!j) {
				err = -ENOMEM;
				break;
			}
			jobs = j;
			cap = c2;
		}
		jobs[n].mp = r->mp;
		jobs[n].from = r->off + ((a > r->start ? a : r->start) -
					 r->start);
		jobs[n].to = r->off + ((b < r->end ? b : r->end) - r->start);
		vfs_map_ref(r->mp);
		n++;
	}
	pthread_mutex_unlock(&fs->map_lock);
	for (size_t i = 0; i < n; i++) {
		int e = vfs_map_sync(jobs[i].mp, &who, jobs[i].from,
				     jobs[i].to);

		if (e && !err)
			err = e;
		vfs_map_put(jobs[i].mp, &who);
	}
	free(jobs);
	return err;
}

int fb_map_end_all(struct fb_fs *fs)
{
	struct fb_region *dead;
	struct fuse_caller who;

	fb_caller(&who, 0);
	pthread_mutex_lock(&fs->map_lock);
	dead = fs->regions;
	fs->regions = NULL;
	pthread_mutex_unlock(&fs->map_lock);
	return drop(dead, &who);
}

FB_GUARDED(int, fb_mmap, (struct fb_fs *fs, int fd, void *addr, size_t len, int prot, int flags, off_t off, void **out),
	   (fs, fd, addr, len, prot, flags, off, out))
FB_GUARDED(int, fb_munmap, (struct fb_fs *fs, void *addr, size_t len),
	   (fs, addr, len))
FB_GUARDED(int, fb_msync, (struct fb_fs *fs, void *addr, size_t len, int flags),
	   (fs, addr, len, flags))
