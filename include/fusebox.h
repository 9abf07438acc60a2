/*
 * fusebox.h - libfusebox, a userspace FUSE client as a C library.
 *
 * A program links libfusebox, hands it one end of a channel to an unmodified
 * FUSE server (or lets fb_spawn() start the server) and then reads the
 * server's filesystem with calls shaped like the *at() system calls.
 *
 * Conventions:
 *  - Every call returns a negative errno value on failure (-ENOENT, ...),
 *    never -1 with errno set.
 *  - File descriptors returned by fb_open()/fb_openat() are fusebox's own
 *    numbers, valid only with the struct fb_fs that made them.
 *  - Paths are resolved inside the FUSE filesystem: "/" is its root, and a
 *    relative path with FB_AT_FDCWD is resolved from the root too.
 *  - All calls are thread safe. A call blocks only while its own requests
 *    are with the server; a server that never answers one request blocks
 *    only the caller of that request.
 *  - Calls that change the filesystem send their request and wait for
 *    the server's answer; what they return is what the server said.
 */
#ifndef FUSEBOX_H
#define FUSEBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FB_AT_FDCWD (-100) /* same value as AT_FDCWD */

struct fb_fs;

struct fb_options {
	/* Largest READ request in bytes (the mount option max_read);
	 * 0 = limited only by max_pages. */
	uint32_t max_read;
	/* Largest request in pages that fusebox offers in INIT (1..256);
	 * 0 = 256, the kernel's default limit. */
	uint32_t max_pages;
	/* Requests that may be in flight at once (sent or queued, waiting
	 * for their reply); callers beyond that wait. 0 = 256. */
	uint32_t max_inflight;
	/* Dentries kept in the cache; beyond that the least recently used
	 * unreferenced ones are dropped (and their inodes forgotten).
	 * 0 = 65536. */
	uint32_t max_dentries;
	/* Log every request and reply to stderr. */
	int debug;
	/* A read-only mount (as mount -o ro): every call that would change
	 * the filesystem fails with -EROFS, after the errors Linux gives
	 * first on a read-only mount (ENOENT, EEXIST, ...). */
	int read_only;
	/* The mount option default_permissions: fusebox checks the mode
	 * bits, owners and the sticky bit itself, as Linux does, and never
	 * sends ACCESS. Only the caller's uid and primary gid count. */
	int default_permissions;
	/* Do not offer FUSE_WRITEBACK_CACHE: writes go through to the
	 * server before they return (see also fb_cache_set_writeback). */
	int no_writeback;
};

void fb_options_init(struct fb_options *opts);

/* Attach to a server over chan_fd, one end of a SOCK_SEQPACKET socketpair
 * whose other end the server uses as its /dev/fuse. Takes ownership of
 * chan_fd. INIT is sent at once; calls made before the server answers it
 * wait for the answer. opts may be NULL. */
int fb_mount(int chan_fd, const struct fb_options *opts, struct fb_fs **out);

/* Start a server and attach to it. argv[0] is the program (searched in
 * PATH). An argument "{}" is replaced by the server's mountpoint
 * "/dev/fd/N"; with no "{}" the mountpoint is appended. */
int fb_spawn(char *const argv[], const struct fb_options *opts,
	     struct fb_fs **out);

/* Wait for INIT to finish. 0 when the server accepted, -ECONNREFUSED when
 * INIT failed (fb_conn_error() says why), -ENOTCONN when the server went
 * away. */
int fb_wait_init(struct fb_fs *fs);

/* A sentence saying why the connection failed, or NULL while it is fine. */
const char *fb_conn_error(struct fb_fs *fs);

/* Send DESTROY, end the server (if fb_spawn started it) and free fs.
 * Returns the server's exit status as waitpid() gives it when fusebox
 * started the server, 0 otherwise, or a negative errno. */
int fb_unmount(struct fb_fs *fs);

/* What INIT settled on. */
struct fb_conn_info {
	uint32_t proto_major, proto_minor;
	uint32_t max_write, max_read, max_readahead, max_pages;
	uint32_t max_background, congestion_threshold, time_gran;
	uint64_t flags; /* FUSE_* capability bits both sides agreed on */
};
int fb_conn_info(struct fb_fs *fs, struct fb_conn_info *info);

/* The page cache (docs/cache.md): file data shared by every open of a
 * file, across all mounts of the process, within one memory bound. The
 * default bound is FUSEBOX_CACHE_SIZE from the environment (bytes, or
 * with a K, M or G suffix), else a sixteenth of RAM between 16 MiB and
 * 2 GiB. Lowering it drops the least recently used data at once. */
void fb_cache_set_limit(size_t bytes);
struct fb_cache_stats {
	size_t bytes, limit;	/* held now, the bound */
	uint64_t hit_bytes;	/* read bytes served from the cache */
	uint64_t miss_bytes;	/* bytes read from servers into it */
	uint64_t evicted;	/* blocks dropped to stay in the bound */
	size_t dirty;		/* bytes of blocks holding written data not
				 * yet acknowledged by a server (never
				 * evicted) */
};
void fb_cache_stats(struct fb_cache_stats *st);
/* Whether mounts made from now on offer FUSE_WRITEBACK_CACHE (on by
 * default; FUSEBOX_WRITEBACK=0 in the environment turns it off). When a
 * server takes it, writes land in the cache and reach the server on
 * fsync, close, a dirty limit (half the bound) and unmount; a writeback
 * error is returned by the next fsync or close, once (docs/cache.md). */
void fb_cache_set_writeback(int on);

/* Files. flags as open(2); mode is used only with O_CREAT. */
int fb_open(struct fb_fs *fs, const char *path, int flags);
int fb_openat(struct fb_fs *fs, int dirfd, const char *path, int flags,
	      mode_t mode);
int fb_close(struct fb_fs *fs, int fd);
ssize_t fb_read(struct fb_fs *fs, int fd, void *buf, size_t count);
ssize_t fb_pread(struct fb_fs *fs, int fd, void *buf, size_t count,
		 off_t offset);
/* whence: SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE */
off_t fb_lseek(struct fb_fs *fs, int fd, off_t offset, int whence);
/* Directory entries as getdents64(2): struct linux_dirent64 records. */
ssize_t fb_getdents64(struct fb_fs *fs, int fd, void *buf, size_t count);

/* Attributes. flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. */
int fb_fstat(struct fb_fs *fs, int fd, struct stat *st);
int fb_fstatat(struct fb_fs *fs, int dirfd, const char *path, struct stat *st,
	       int flags);
int fb_stat(struct fb_fs *fs, const char *path, struct stat *st);
int fb_lstat(struct fb_fs *fs, const char *path, struct stat *st);
ssize_t fb_readlinkat(struct fb_fs *fs, int dirfd, const char *path,
		      char *buf, size_t size);
int fb_statfs(struct fb_fs *fs, const char *path, struct statfs *sfs);
int fb_fstatfs(struct fb_fs *fs, int fd, struct statfs *sfs);
/* mode: F_OK or R_OK|W_OK|X_OK; flags: AT_EACCESS, AT_SYMLINK_NOFOLLOW */
int fb_faccessat(struct fb_fs *fs, int dirfd, const char *path, int mode,
		 int flags);

/* Extended attributes, as getxattr(2)/listxattr(2); size 0 asks for the
 * size needed. */
ssize_t fb_getxattr(struct fb_fs *fs, const char *path, const char *name,
		    void *value, size_t size);
ssize_t fb_lgetxattr(struct fb_fs *fs, const char *path, const char *name,
		     void *value, size_t size);
ssize_t fb_fgetxattr(struct fb_fs *fs, int fd, const char *name, void *value,
		     size_t size);
ssize_t fb_listxattr(struct fb_fs *fs, const char *path, char *list,
		     size_t size);
ssize_t fb_llistxattr(struct fb_fs *fs, const char *path, char *list,
		      size_t size);
ssize_t fb_flistxattr(struct fb_fs *fs, int fd, char *list, size_t size);

/* Calls that change the filesystem, shaped as their system calls.
 * flags of the *at() calls as there: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH,
 * AT_REMOVEDIR, AT_SYMLINK_FOLLOW. Data written is sent to the server
 * before the call returns (no write cache in this version). */
ssize_t fb_write(struct fb_fs *fs, int fd, const void *buf, size_t count);
ssize_t fb_pwrite(struct fb_fs *fs, int fd, const void *buf, size_t count,
		  off_t offset);
int fb_mkdirat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode);
/* mode carries the type: S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK. */
int fb_mknodat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode,
	       dev_t dev);
int fb_symlinkat(struct fb_fs *fs, const char *target, int newdirfd,
		 const char *linkpath);
int fb_linkat(struct fb_fs *fs, int olddirfd, const char *oldpath,
	      int newdirfd, const char *newpath, int flags);
int fb_unlinkat(struct fb_fs *fs, int dirfd, const char *path, int flags);
int fb_renameat(struct fb_fs *fs, int olddirfd, const char *oldpath,
		int newdirfd, const char *newpath);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT */
int fb_renameat2(struct fb_fs *fs, int olddirfd, const char *oldpath,
		 int newdirfd, const char *newpath, unsigned int flags);
int fb_fchmodat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode,
		int flags);
int fb_fchmod(struct fb_fs *fs, int fd, mode_t mode);
/* uid or gid (uid_t)-1 leaves it unchanged. */
int fb_fchownat(struct fb_fs *fs, int dirfd, const char *path, uid_t uid,
		gid_t gid, int flags);
int fb_fchown(struct fb_fs *fs, int fd, uid_t uid, gid_t gid);
int fb_truncate(struct fb_fs *fs, const char *path, off_t length);
int fb_ftruncate(struct fb_fs *fs, int fd, off_t length);
/* times NULL: both now; UTIME_NOW and UTIME_OMIT as utimensat(2). */
int fb_utimensat(struct fb_fs *fs, int dirfd, const char *path,
		 const struct timespec times[2], int flags);
int fb_futimens(struct fb_fs *fs, int fd, const struct timespec times[2]);
/* flags: XATTR_CREATE, XATTR_REPLACE */
int fb_setxattr(struct fb_fs *fs, const char *path, const char *name,
		const void *value, size_t size, int flags);
int fb_lsetxattr(struct fb_fs *fs, const char *path, const char *name,
		 const void *value, size_t size, int flags);
int fb_fsetxattr(struct fb_fs *fs, int fd, const char *name,
		 const void *value, size_t size, int flags);
int fb_removexattr(struct fb_fs *fs, const char *path, const char *name);
int fb_lremovexattr(struct fb_fs *fs, const char *path, const char *name);
int fb_fremovexattr(struct fb_fs *fs, int fd, const char *name);
int fb_fsync(struct fb_fs *fs, int fd);
int fb_fdatasync(struct fb_fs *fs, int fd);
int fb_syncfs(struct fb_fs *fs, int fd);
/* Memory mappings of a file of the mount, as mmap(2)/msync(2)/munmap(2)
 * (0 or a negative errno; fb_mmap puts the address in *out). Every
 * mapping of a file, and fb_read/fb_write on it, see the same bytes;
 * MAP_SHARED stores reach the server at fb_msync, fb_fsync, an fb_read
 * of their range, and when the file's last mapping is fb_munmap'd (or at
 * fb_unmount). Memory mapped with fb_mmap must be unmapped with
 * fb_munmap, whose bookkeeping a plain munmap(2) would skip. */
int fb_mmap(struct fb_fs *fs, int fd, void *addr, size_t len, int prot,
	    int flags, off_t off, void **out);
int fb_msync(struct fb_fs *fs, void *addr, size_t len, int flags);
int fb_munmap(struct fb_fs *fs, void *addr, size_t len);
/* mode as fallocate(2): 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, ... */
int fb_fallocate(struct fb_fs *fs, int fd, int mode, off_t offset,
		 off_t len);
/* As copy_file_range(2); off_in/off_out NULL use and advance the files'
 * positions. Both descriptors must be of this fs. */
ssize_t fb_copy_file_range(struct fb_fs *fs, int fd_in, off_t *off_in,
			   int fd_out, off_t *off_out, size_t len,
			   unsigned int flags);
/* Record locks, as fcntl(2) with cmd F_GETLK, F_SETLK, F_SETLKW (owned
 * by the fs handle: one process) or F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
 * (owned by the open file). */
int fb_fcntl_lock(struct fb_fs *fs, int fd, int cmd, struct flock *lk);
/* As flock(2): LOCK_SH, LOCK_EX, LOCK_UN, | LOCK_NB. */
int fb_flock(struct fb_fs *fs, int fd, int op);

/* As ioctl(2). The command's _IOC encoding says how many bytes of *arg
 * go to the server (_IOC_WRITE) and come back (_IOC_READ), as Linux's
 * restricted FUSE ioctl; commands without that encoding move no data
 * (arg is passed as a number only), except those Linux answers without
 * the server: FIONREAD, FIOQSIZE, FIGETBSZ, FIONBIO, FIOASYNC, FIBMAP,
 * FIOCLEX/FIONCLEX (no effect). Returns what the server's handler
 * returned (0 or more, or its -errno), -ENOTTY where it has no ioctl. */
int fb_ioctl(struct fb_fs *fs, int fd, unsigned long cmd, void *arg);
/* As poll(2) over descriptors of fs: events and revents as there
 * (POLLERR, POLLHUP and POLLNVAL always reported). The server answers
 * POLL for each descriptor; while none is ready the call sleeps until
 * the server sends a NOTIFY_POLL for one of them or timeout_ms passes
 * (-1: no limit, 0: do not sleep). Servers without POLL make every file
 * readable and writable, as on Linux. Returns how many descriptors have
 * revents, 0 on timeout. */
int fb_poll(struct fb_fs *fs, struct pollfd *fds, nfds_t nfds,
	    int timeout_ms);

/* inotify over fusebox mounts (inotify(7)). An instance is not tied to
 * one fb_fs: it may watch paths on several. Flags: IN_NONBLOCK and
 * IN_CLOEXEC (the latter for the pollable descriptor). Returns -EMFILE
 * past the per-user instance limit (/proc/sys/fs/inotify/). */
struct fb_inotify;
int fb_inotify_init1(int flags, struct fb_inotify **out);
/* As close(2) of the instance: its watches go. */
void fb_inotify_close(struct fb_inotify *in);
/* As inotify_add_watch(2) on path of fs (IN_DONT_FOLLOW, IN_ONLYDIR,
 * IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT, IN_EXCL_UNLINK as there): the
 * watch descriptor or -errno (ENOSPC past the per-user watch limit). */
int fb_inotify_add_watch(struct fb_inotify *in, struct fb_fs *fs,
			 const char *path, uint32_t mask);
int fb_inotify_rm_watch(struct fb_inotify *in, int wd);
/* As read(2) of the instance: whole struct inotify_event records;
 * -EINVAL if buf cannot hold the next; -EAGAIN when empty with
 * IN_NONBLOCK, else waits for an event. */
ssize_t fb_inotify_read(struct fb_inotify *in, void *buf, size_t count);
/* ioctl(FIONREAD): bytes ready. */
int fb_inotify_nread(struct fb_inotify *in);
/* A descriptor that poll(2), select(2) and epoll report readable while
 * events wait (do not read it; fb_inotify_read). */
int fb_inotify_fd(const struct fb_inotify *in);

#ifdef __cplusplus
}
#endif
#endif
