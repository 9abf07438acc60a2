/*
 * notify.c - what the server says unasked (INVAL_INODE, INVAL_ENTRY,
 * DELETE), applied to the attribute, dentry and page caches as Linux's
 * client applies them to its own, POLL, which wakes pollers (poll.c), and
 * STORE/RETRIEVE (notify_data.c).
 *
 * This runs on the connection's receiving thread, so it only ever takes
 * m->lock or m->poll_lock and never waits for the server. Inodes whose last reference
 * goes here leave their FORGET queued; the next vfs_unlock() sends it
 * (sending from the receiving thread could wait on a full queue that
 * only this thread drains).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs.h"

/* Linux refuses longer names in a notification (FUSE_NAME_MAX). */
#define NOTIFY_NAME_MAX 1024

/* Attributes are asked again; the cached symlink target too when the
 * server names a data range (off >= 0), as Linux drops its pages. */
static void inval_inode(struct vfs_mount *m,
			const struct fuse_notify_inval_inode_out *o)
{
	struct vfs_inode *ino;

	pthread_mutex_lock(&m->lock);
	ino = vfs_inode_find(m, o->ino);
	if (ino) {
		ino->attr_expiry = 0;
		ino->attr_gen++;
		if (o->off >= 0 && ino->link) {
			free(ino->link);
			ino->link = NULL;
			ino->link_len = 0;
		}
		/* The data range the server names (len <= 0: to the end)
		 * leaves the page cache, as Linux drops its pages. */
		if (o->off >= 0)
			vfs_pc_invalidate(ino, (uint64_t)o->off,
					  o->len > 0 && (uint64_t)o->len <=
						  UINT64_MAX - (uint64_t)o->off
						  ? (uint64_t)(o->off + o->len)
						  : UINT64_MAX);
		vfs_inode_get(ino);
	}
	pthread_mutex_unlock(&m->lock);
	if (ino) {
		/* Beyond Linux: the change the server reports reaches
		 * inotify (data: IN_MODIFY; attributes only: IN_ATTRIB). */
		vfs_fsnotify(m, ino, o->off >= 0 ? IN_MODIFY : IN_ATTRIB);
		vfs_inode_put(m, ino);
	}
}

/* Beyond Linux: a DELETE the server reports reaches inotify as an unlink
 * would (IN_DELETE_SELF for the node once unopened, IN_DELETE in the
 * directory). */
static void deleted(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t len, struct vfs_inode *ino)
{
	char *n = strndup(name, len);
	bool gone = false;

	if (ino) {
		pthread_mutex_lock(&m->lock);
		gone = !ino->opens;
		pthread_mutex_unlock(&m->lock);
		if (gone)
			vfs_fsnotify_gone(m, ino);
	}
	if (n)
		vfs_fsnotify_dir(m, dir, IN_DELETE, n,
				 ino && S_ISDIR(ino->type), 0);
	free(n);
}

/* Linux's fuse_reverse_inval_entry: only a cached name is touched. Its
 * directory's attributes expire; the name is dropped (or, with
 * EXPIRE_ONLY, kept but expired so the next walk asks again). With a
 * child (DELETE), the node the name led to has lost that link. */
static void inval_entry(struct vfs_mount *m, uint64_t parent,
			const char *name, size_t len, uint64_t child,
			uint32_t flags)
{
	struct vfs_inode *dir, *ino;

	pthread_mutex_lock(&m->lock);
	dir = vfs_inode_find(m, parent);
	if (!dir || !S_ISDIR(dir->type) ||
	    !vfs_dentry_peek(m, dir, name, len, &ino)) {
		if (child && dir && S_ISDIR(dir->type)) {
			/* Not cached, but the directory is known: its
			 * watches still hear of the deletion. */
			vfs_inode_get(dir);
			pthread_mutex_unlock(&m->lock);
			deleted(m, dir, name, len, NULL);
			vfs_inode_put(m, dir);
			return;
		}
		pthread_mutex_unlock(&m->lock);
		return;
	}
	dir->attr_expiry = 0;
	dir->attr_gen++;
	if (child && ino && ino->nodeid == child) {
		ino->attr.nlink = 0;
		ino->attr_expiry = 0;
		ino->attr_gen++;
	}
	if (flags & FUSE_EXPIRE_ONLY)
		vfs_dentry_expire(m, dir, name, len);
	else
		vfs_dentry_drop(m, dir, name, len);
	if (!child) {
		pthread_mutex_unlock(&m->lock);
		return;
	}
	vfs_inode_get(dir);
	if (ino && ino->nodeid == child) {
		vfs_inode_get(ino);
		vfs_alias_unlinked(ino, dir, name);
		ino->unlinked = true;
	} else {
		ino = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	deleted(m, dir, name, len, ino);
	if (ino)
		vfs_inode_put(m, ino);
	vfs_inode_put(m, dir);
}

/* A name is NUL-terminated right after namelen bytes and fills the rest
 * of the message exactly. */
static bool name_ok(const char *name, uint32_t namelen, size_t rest)
{
	return namelen > 0 && namelen <= NOTIFY_NAME_MAX &&
	       rest == (size_t)namelen + 1 && name[namelen] == '\0' &&
	       !memchr(name, '/', namelen);
}

void vfs_notify(void *ctx, int code, const void *msg, size_t len)
{
	struct vfs_mount *m = ctx;
	const char *bad = NULL;

	switch (code) {
	case FUSE_NOTIFY_INVAL_INODE:
		if (len != sizeof(struct fuse_notify_inval_inode_out))
			bad = "INVAL_INODE of the wrong size";
		else
			inval_inode(m, msg);
		break;
	case FUSE_NOTIFY_INVAL_ENTRY: {
		const struct fuse_notify_inval_entry_out *o = msg;
		const char *name = (const char *)(o + 1);

		if (len < sizeof(*o) ||
		    !name_ok(name, o->namelen, len - sizeof(*o)))
			bad = "INVAL_ENTRY with a bad name";
		else if (o->flags & ~(uint32_t)FUSE_EXPIRE_ONLY)
			bad = "INVAL_ENTRY with unknown flags";
		else
			inval_entry(m, o->parent, name, o->namelen, 0,
				    o->flags);
		break;
	}
	case FUSE_NOTIFY_DELETE: {
		const struct fuse_notify_delete_out *o = msg;
		const char *name = (const char *)(o + 1);

		if (len < sizeof(*o) ||
		    !name_ok(name, o->namelen, len - sizeof(*o)))
			bad = "DELETE with a bad name";
		else
			inval_entry(m, o->parent, name, o->namelen, o->child,
				    0);
		break;
	}
	case FUSE_NOTIFY_POLL:
		if (len != sizeof(struct fuse_notify_poll_wakeup_out))
			bad = "POLL of the wrong size";
		else
			vfs_poll_wakeup(m, ((const struct
					     fuse_notify_poll_wakeup_out *)msg)
						   ->kh);
		break;
	case FUSE_NOTIFY_STORE:
		bad = vfs_notify_store(m, msg, len);
		break;
	case FUSE_NOTIFY_RETRIEVE:
		bad = vfs_notify_retrieve(m, msg, len);
		break;
	default:
		/* Linux fails the server's write with EINVAL; here the
		 * message is logged and dropped. */
		bad = "unknown notification";
		break;
	}
	if (bad)
		fuse_log_bad(m->conn, "notification %d: %s", code, bad);
}
