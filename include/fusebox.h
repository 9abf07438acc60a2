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
 *  - This version is read-only: calls that would change the filesystem
 *    return -EROFS.
 */
#ifndef FUSEBOX_H
#define FUSEBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
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

/* Calls that change the filesystem: -EROFS in this version. */
ssize_t fb_write(struct fb_fs *fs, int fd, const void *buf, size_t count);
ssize_t fb_pwrite(struct fb_fs *fs, int fd, const void *buf, size_t count,
		  off_t offset);
int fb_mkdirat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode);
int fb_unlinkat(struct fb_fs *fs, int dirfd, const char *path, int flags);
int fb_renameat(struct fb_fs *fs, int olddirfd, const char *oldpath,
		int newdirfd, const char *newpath);
int fb_symlinkat(struct fb_fs *fs, const char *target, int newdirfd,
		 const char *linkpath);
int fb_fchmodat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode,
		int flags);
int fb_ftruncate(struct fb_fs *fs, int fd, off_t length);

#ifdef __cplusplus
}
#endif
#endif
