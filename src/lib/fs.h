/*
 * fs.h - struct fb_fs, what a libfusebox handle holds: the connection,
 * the VFS mount, the descriptor table and the server it started.
 */
#ifndef FUSEBOX_LIB_FS_H
#define FUSEBOX_LIB_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "fusebox.h"
#include "vfs/vfs.h"

struct fb_fs {
	struct fuse_conn *conn;
	struct vfs_mount *m;

	pthread_mutex_t fd_lock;
	struct vfs_file **fds;
	int n_fds;

	/* Calls in progress; fb_unmount waits for them. */
	pthread_mutex_t calls_lock;
	pthread_cond_t calls_cv;
	unsigned calls;
	bool unmounting;

	/* mmap.c: the regions fb_mmap mapped (under map_lock, a leaf). */
	pthread_mutex_t map_lock;
	struct fb_region *regions;

	pid_t server_pid;	/* 0 unless fb_spawn started it */
	ino_t server_sock;	/* the server's end, to find daemonized ones */
};

/* mount.c: fb_mount when the largest message the server can send is
 * known (0: assume it is what our own end can send). */
int fb_mount_chan(int chan_fd, const struct fb_options *opts,
		  long server_max_msg, struct fb_fs **out);

/* mount.c: bracket every public call. fb_enter fails with -ENOTCONN
 * once fb_unmount has started. */
int fb_enter(struct fb_fs *fs);
void fb_leave(struct fb_fs *fs);
#define FB_GUARDED(ret, name, params, args)                                  \
	ret name params                                                      \
	{                                                                    \
		ret r_ = (ret)fb_enter(fs);                                  \
		if (r_)                                                      \
			return r_;                                           \
		r_ = impl_##name args;                                       \
		fb_leave(fs);                                                \
		return r_;                                                   \
	}

/* mmap.c: ends every mapping (their stores are written back), for
 * fb_unmount. */
int fb_map_end_all(struct fb_fs *fs);

/* fdtable.c */
int fb_fd_install(struct fb_fs *fs, struct vfs_file *f);
struct vfs_file *fb_fd_get(struct fb_fs *fs, int fd); /* referenced */
struct vfs_file *fb_fd_remove(struct fb_fs *fs, int fd);

/* The caller as the kernel would describe it: fsuid, fsgid, tgid; with
 * real_ids, the real ones (access(2) without AT_EACCESS). */
void fb_caller(struct fuse_caller *who, int real_ids);

/* As fb_caller, plus the umask, for calls that create. */
void fb_caller_umask(struct fuse_caller *who);

/* api.c: where a path starts (referenced), where it leads, and the
 * directory holding its last name. */
int fb_start_inode(struct fb_fs *fs, int dirfd, const char *path,
		   struct vfs_inode **out);
int fb_resolve(struct fb_fs *fs, const struct fuse_caller *who, int dirfd,
	       const char *path, int walk_flags, struct vfs_inode **out);
int fb_parent(struct fb_fs *fs, const struct fuse_caller *who, int dirfd,
	      const char *path, struct vfs_inode **dir, struct vfs_last *last);

/* spawn.c */
/* After DESTROY: ask the server to exit (SIGTERM), before the channel
 * closes, so that it ends cleanly. */
void fb_server_stop(struct fb_fs *fs, int *status);
/* After the channel closed: wait for it (SIGKILL if it lingers). */
void fb_server_reap(struct fb_fs *fs, int *status);

#endif
