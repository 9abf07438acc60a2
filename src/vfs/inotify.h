/*
 * inotify.h - inotify over the VFS, as ../shared/seeds/inotify.md designs
 * it and as Linux behaves (inotify(7)).
 *
 * An instance (vfs_inotify) has a globally unique id, its watches, and a
 * queue of events; its "fd" for poll(2) is the read end of a pipe that
 * holds one byte while events are queued. A watch (vfs_watch) belongs to
 * one instance and sits in the watch set of one inode, which it pins (a
 * reference: no FORGET is sent for a watched inode, and the inode, found
 * again by nodeid, keeps its watches when its dentries are evicted).
 * Events are raised by the VFS operations (namei, setattr, write, open,
 * read, the last close of an open file, server notifications) through
 * vfs_fsnotify and friends, and queued to the instances owning the
 * watches.
 *
 * Locks, in this order (checked in debug builds, see inotify.c):
 *   instance->mu  >  inode watch set mu  >  instance->ev_mu
 * The seed's per-watch lock has no counterpart: a watch's fields are
 * guarded by the watch set it sits in. m->lock may be taken under any of
 * them, never the other way round, and none is held across a request to
 * the server.
 */
#ifndef FUSEBOX_VFS_INOTIFY_H
#define FUSEBOX_VFS_INOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/types.h>

/* Linux's ALL_INOTIFY_BITS: a mask with none of them is EINVAL (one
 * with flags only makes a watch that reports nothing). */
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif
#define VFS_INOTIFY_VALID_BITS                                           \
	(IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED |       \
	 IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |    \
	 IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT)

struct vfs_mount;
struct vfs_inode;
struct vfs_inotify;
struct vfs_file;

/* The limits in force, read once from /proc/sys/fs/inotify/ (Linux's
 * defaults where that cannot be read; for tests, the environment's
 * FUSEBOX_INOTIFY_MAX_USER_INSTANCES, _MAX_USER_WATCHES and
 * _MAX_QUEUED_EVENTS come first): per user, instances and watches; per
 * instance, queued events. */
struct vfs_inotify_limits {
	unsigned max_user_instances;
	unsigned max_user_watches;
	unsigned max_queued_events;
};
const struct vfs_inotify_limits *vfs_inotify_limits(void);

/* A new instance for uid (EMFILE past max_user_instances). flags:
 * IN_NONBLOCK and IN_CLOEXEC apply to the ready fd. */
int vfs_inotify_new(uid_t uid, int flags, struct vfs_inotify **out);
void vfs_inotify_get(struct vfs_inotify *in);
/* The last put removes every watch (no IN_IGNORED: nobody can read). */
void vfs_inotify_put(struct vfs_inotify *in);
uint64_t vfs_inotify_id(const struct vfs_inotify *in);
/* Readable (poll, select, epoll) while events are queued. */
int vfs_inotify_ready_fd(const struct vfs_inotify *in);

/* inotify_add_watch(2) on ino (the caller resolved the path, with
 * IN_DONT_FOLLOW and checked read permission): the watch descriptor, or
 * EINVAL, ENOTDIR (IN_ONLYDIR), EEXIST (IN_MASK_CREATE), ENOSPC (per-user
 * watch limit). Watching an inode twice gives the same wd. */
int vfs_inotify_add_watch(struct vfs_inotify *in, struct vfs_mount *m,
			  struct vfs_inode *ino, uint32_t mask);
/* inotify_rm_watch(2): 0 (IN_IGNORED is queued) or EINVAL. */
int vfs_inotify_rm_watch(struct vfs_inotify *in, int wd);
/* read(2): whole events only; EINVAL if the first does not fit, EAGAIN
 * when empty and nonblock, else waits (EINTR if the caller goes). */
ssize_t vfs_inotify_read(struct vfs_inotify *in, void *buf, size_t count,
			 bool nonblock);
/* ioctl(FIONREAD): bytes queued. */
size_t vfs_inotify_nread(struct vfs_inotify *in);
/* /proc/PID/fdinfo lines ("inotify wd:%x ino:%lx sdev:%x mask:%x ..."),
 * written to buf; the length. */
size_t vfs_inotify_fdinfo(struct vfs_inotify *in, char *buf, size_t size);

/* For events from elsewhere (the kernel's inotify for paths outside the
 * mounts, under fusebox run): a wd from the instance's own numbering,
 * and an event queued as any other (coalesced, counted, overflowing). */
int vfs_inotify_new_wd(struct vfs_inotify *in);
void vfs_inotify_queue(struct vfs_inotify *in, int wd, uint32_t mask,
		       uint32_t cookie, const char *name);

/* Event sources. None may be called with m->lock held. */
/* An event on ino itself: its own watches, and its parent directory's
 * (with its name) for events Linux reports on children. */
void vfs_fsnotify(struct vfs_mount *m, struct vfs_inode *ino, uint32_t mask);
/* The same for an open file's inode, under the name f was opened by.
 * path: the file's own doing (open, read, write, close: Linux's path
 * events, which IN_EXCL_UNLINK drops once that name is unlinked), not a
 * change of attributes through it (ftruncate, fchmod). */
void vfs_fsnotify_file(struct vfs_file *f, uint32_t mask, bool path);
/* Data moved through f, a FIFO's descriptor: IN_ACCESS or IN_MODIFY for
 * the FIFO's own watches only (Linux's parent watches do not see pipe
 * reads and writes; measured on 6.18, tmpfs and FUSE alike). */
void vfs_fsnotify_pipe(struct vfs_file *f, uint32_t mask);
/* An event for ino's own watches only (IN_ATTRIB for a link count,
 * IN_MOVE_SELF). */
void vfs_fsnotify_self(struct vfs_mount *m, struct vfs_inode *ino,
		       uint32_t mask);
/* An event in directory dir about its entry name (IN_CREATE, IN_DELETE,
 * IN_MOVED_FROM/TO); isdir adds IN_ISDIR. */
void vfs_fsnotify_dir(struct vfs_mount *m, struct vfs_inode *dir,
		      uint32_t mask, const char *name, bool isdir,
		      uint32_t cookie);
/* ino lost its last link and its last user: IN_DELETE_SELF, then its
 * watches go (IN_IGNORED). */
void vfs_fsnotify_gone(struct vfs_mount *m, struct vfs_inode *ino);
/* The mount goes: IN_UNMOUNT and IN_IGNORED for every watch on it. */
void vfs_fsnotify_unmount(struct vfs_mount *m);
/* A fresh rename cookie. */
uint32_t vfs_fsnotify_cookie(void);

/* ino goes: its watch set and last walked name. */
void vfs_inotify_inode_free(struct vfs_inode *ino);

#endif
