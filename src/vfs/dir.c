/*
 * dir.c - getdents64 over READDIR and READDIRPLUS. Records the server
 * sends beyond what fits in the caller's buffer are kept for the next
 * call instead of being asked for again. READDIRPLUS entries go into the
 * dentry and inode caches, so a listing followed by stat costs no more
 * round trips.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs.h"

#define PAGE_SZ 4096u

struct linux_dirent64_hdr {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static bool is_dot(const struct fuse_dirent_view *d)
{
	return (d->namelen == 1 && d->name[0] == '.') ||
	       (d->namelen == 2 && d->name[0] == '.' && d->name[1] == '.');
}

/* First pass over a READDIRPLUS reply: every entry the server counted a
 * lookup for must be usable, else the reply is refused whole. */
static int plus_check(void *ctx, const struct fuse_dirent_view *d)
{
	struct fuse_conn *c = ctx;

	if (is_dot(d) || d->entry->nodeid == 0)
		return 0;
	return fuse_entry_check(c, FUSE_READDIRPLUS, d->entry);
}

struct plus_ctx {
	struct vfs_mount *m;
	struct vfs_inode *dir;
	uint64_t now;
	bool forget_all;
};

static int plus_install(void *ctx, const struct fuse_dirent_view *d)
{
	struct plus_ctx *pc = ctx;
	const struct fuse_entry_out *e = d->entry;
	struct vfs_inode *ino;
	uint64_t ttl;

	if (is_dot(d) || e->nodeid == 0)
		return 0;
	if (pc->forget_all || e->nodeid == FUSE_ROOT_ID) {
		if (e->nodeid != FUSE_ROOT_ID)
			vfs_forget_queue(pc->m, e->nodeid, 1);
		return 0;
	}
	ino = vfs_inode_install(pc->m, e, pc->now);
	if (!ino)
		return 0;
	if (S_ISDIR(ino->type) && ino->parent != pc->dir) {
		struct vfs_inode *old = ino->parent;

		vfs_inode_get(pc->dir);
		ino->parent = pc->dir;
		vfs_inode_put_locked(pc->m, old);
	}
	ttl = fuse_timeout_ns(e->entry_valid, e->entry_valid_nsec);
	vfs_dentry_set(pc->m, pc->dir, d->name, d->namelen, ino,
		       ttl > UINT64_MAX - pc->now ? UINT64_MAX : pc->now + ttl);
	vfs_inode_put_locked(pc->m, ino);
	return 0;
}

static bool use_plus(struct vfs_file *f)
{
	struct vfs_mount *m = f->m;
	uint64_t fl = m->conn->lim.flags;
	bool advised;

	if (!(fl & FUSE_DO_READDIRPLUS))
		return false;
	if (!(fl & FUSE_READDIRPLUS_AUTO))
		return true;
	/* Adaptive, as Linux: the first batch, or after lookups showed
	 * that the caller wants attributes. */
	pthread_mutex_lock(&m->lock);
	advised = f->inode->advise_rdplus;
	f->inode->advise_rdplus = false;
	pthread_mutex_unlock(&m->lock);
	return advised || f->pos == 0;
}

static int fetch(struct vfs_file *f, const struct fuse_caller *who,
		 size_t count)
{
	struct vfs_mount *m = f->m;
	uint32_t size = m->conn->lim.max_pages * PAGE_SZ;
	bool plus = use_plus(f);
	struct plus_ctx pc = { m, f->inode, 0, false };
	ssize_t n;
	char *buf;
	int err;

	if (count < size)
		size = count < PAGE_SZ ? PAGE_SZ : (uint32_t)count;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	n = fuse_op_readdir(m->conn, who, f->inode->nodeid, f->fh,
			    (uint64_t)f->pos, plus, buf, size);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	err = fuse_dirents_parse(m->conn, buf, (size_t)n, plus, NULL, NULL);
	if (!err && plus)
		err = fuse_dirents_parse(m->conn, buf, (size_t)n, true,
					 plus_check, m->conn);
	if (plus) {
		/* Install them, or give their lookups back if refused. */
		pc.now = vfs_now();
		pc.forget_all = err != 0;
		pthread_mutex_lock(&m->lock);
		fuse_dirents_parse(m->conn, buf, (size_t)n, true, plus_install,
				   &pc);
		vfs_unlock(m);
	}
	if (err) {
		free(buf);
		return err;
	}
	free(f->dbuf);
	f->dbuf = buf;
	f->dbuf_len = (size_t)n;
	f->dbuf_pos = 0;
	f->dbuf_start = f->pos;
	f->dbuf_plus = plus;
	return 0;
}

struct emit_ctx {
	char *out;
	size_t count, used;
	size_t consumed; /* bytes of dbuf records taken */
	off_t last_off;
	bool full;
	bool plus;
};

static int emit(void *ctx, const struct fuse_dirent_view *d)
{
	struct emit_ctx *ec = ctx;
	size_t reclen = (offsetof(struct linux_dirent64_hdr, d_name) +
			 d->namelen + 1 + 7) & ~(size_t)7;
	size_t hdr = ec->plus ? offsetof(struct fuse_direntplus, dirent.name)
			      : offsetof(struct fuse_dirent, name);
	struct linux_dirent64_hdr *o;

	if (ec->used + reclen > ec->count) {
		ec->full = true;
		return 1;
	}
	o = (void *)(ec->out + ec->used);
	o->d_ino = d->ino;
	o->d_off = (int64_t)d->off;
	o->d_reclen = (unsigned short)reclen;
	o->d_type = (unsigned char)d->type;
	memcpy(o->d_name, d->name, d->namelen);
	memset(o->d_name + d->namelen, 0,
	       reclen - offsetof(struct linux_dirent64_hdr, d_name) -
		       d->namelen);
	ec->used += reclen;
	ec->consumed += (hdr + d->namelen + 7) & ~(size_t)7;
	ec->last_off = (off_t)d->off;
	return 0;
}

ssize_t vfs_getdents64(struct vfs_file *f, const struct fuse_caller *who,
		       void *buf, size_t count)
{
	struct emit_ctx ec = { .out = buf, .count = count };
	int err = 0;
	bool dead;

	if (f->flags & O_PATH)
		return -EBADF; /* Linux's fdget refuses it first */
	if (!S_ISDIR(f->inode->type))
		return -ENOTDIR;
	/* Linux's iterate_dir: a removed directory is not read (nor is
	 * IN_ACCESS raised). */
	pthread_mutex_lock(&f->m->lock);
	dead = f->inode->unlinked;
	pthread_mutex_unlock(&f->m->lock);
	if (dead)
		return -ENOENT;
	pthread_mutex_lock(&f->pos_lock);
	for (;;) {
		if (!f->dbuf || f->dbuf_pos >= f->dbuf_len ||
		    f->dbuf_start != f->pos) {
			err = fetch(f, who, count);
			if (err || f->dbuf_len == 0)
				break; /* error, or end of directory */
		}
		ec.plus = f->dbuf_plus;
		ec.consumed = 0;
		fuse_dirents_parse(f->m->conn, f->dbuf + f->dbuf_pos,
				   f->dbuf_len - f->dbuf_pos, f->dbuf_plus,
				   emit, &ec);
		f->dbuf_pos += ec.consumed;
		if (ec.consumed) {
			f->pos = ec.last_off;
			f->dbuf_start = f->pos;
		}
		if (ec.full || ec.used)
			break;
	}
	if (ec.full && ec.used == 0)
		err = -EINVAL; /* the buffer cannot hold the next record */
	pthread_mutex_unlock(&f->pos_lock);
	if (!err || ec.used)
		vfs_fsnotify_file(f, IN_ACCESS, true); /* iterate_dir */
	if (ec.used)
		return (ssize_t)ec.used;
	return err;
}
