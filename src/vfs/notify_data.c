/*
 * notify_data.c - the server's notifications about file data: STORE puts
 * data into the page cache (and grows the file's size to cover it), and
 * RETRIEVE asks for what the cache holds, answered with NOTIFY_REPLY, as
 * Linux's client does. Runs on the receiving thread: only m->lock and
 * the cache's leaf lock are taken, and the reply is queued, not waited
 * for.
 */
#include <errno.h>
#include <stdlib.h>

#include "vfs/vfs.h"

/* The inode of nodeid, referenced, or NULL (Linux answers ENOENT). */
static struct vfs_inode *known(struct vfs_mount *m, uint64_t nodeid)
{
	struct vfs_inode *ino;

	pthread_mutex_lock(&m->lock);
	ino = vfs_inode_find(m, nodeid);
	if (ino)
		vfs_inode_get(ino);
	pthread_mutex_unlock(&m->lock);
	return ino;
}

const char *vfs_notify_store(struct vfs_mount *m, const void *msg,
			     size_t len)
{
	const struct fuse_notify_store_out *o = msg;
	struct vfs_inode *ino;
	uint64_t end, size;

	if (len < sizeof(*o) || len - sizeof(*o) != o->size)
		return "STORE whose size does not match its data";
	if (o->offset > UINT64_MAX - o->size)
		return "STORE past the largest offset";
	ino = known(m, o->nodeid);
	if (!ino)
		return NULL; /* nothing cached of it to store into */
	end = o->offset + o->size;
	/* As Linux: the file is at least as long as what was stored, and
	 * its attributes are asked again. */
	size = vfs_data_reached(m, ino, end);
	if (S_ISREG(ino->type))
		vfs_pc_write(ino, o->offset, o + 1, o->size, size);
	vfs_inode_put(m, ino);
	return NULL;
}

const char *vfs_notify_retrieve(struct vfs_mount *m, const void *msg,
				size_t len)
{
	const struct fuse_notify_retrieve_out *o = msg;
	struct vfs_inode *ino;
	uint64_t size;
	uint32_t num = 0;
	char *buf = NULL;

	if (len != sizeof(*o))
		return "RETRIEVE of the wrong size";
	ino = known(m, o->nodeid);
	if (!ino)
		return NULL;
	pthread_mutex_lock(&m->lock);
	size = ino->attr.size;
	pthread_mutex_unlock(&m->lock);
	/* Linux's bounds: max_write, and the file's size. */
	num = o->size < m->conn->lim.max_write ? o->size
					       : m->conn->lim.max_write;
	if (o->offset >= size)
		num = 0;
	else if (num > size - o->offset)
		num = (uint32_t)(size - o->offset);
	if (num && (buf = malloc(num)))
		num = S_ISREG(ino->type)
			      ? (uint32_t)vfs_pc_read(ino, o->offset, buf, num)
			      : 0;
	else
		num = 0;
	/* What is cached from offset on, up to the first gap: the server
	 * gets an answer even when that is nothing. */
	fuse_op_notify_reply(m->conn, o->notify_unique, o->nodeid, o->offset,
			     buf, num);
	free(buf);
	vfs_inode_put(m, ino);
	return NULL;
}
