/*
 * sys_socket.c - Unix sockets named on a mount: bind(2) and connect(2)
 * with a sockaddr_un path.
 *
 * On Linux, bind makes the socket's node on the filesystem (MKNOD with
 * S_IFSOCK on a FUSE mount) while the socket itself stays the kernel's;
 * connect finds the node by path and then the socket bound to it. Here
 * the node is made on the server the same way, and the kernel socket is
 * bound to a private path of fusebox's (vfs_local_path, beside the
 * FIFOs); connect to the node's path connects to that private path. The
 * caller's socket is reached with pidfd_getfd: binding or connecting our
 * copy binds or connects the caller's socket, which is the same open
 * file. Without these, the kernel would make the socket file in the
 * directory under the mountpoint, outside the sandbox's view of it.
 *
 * Abstract and unnamed addresses, and paths outside every mount, go to
 * the kernel. sendto/sendmsg with a path address are not translated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* The path of a sockaddr_un in the caller's memory: 1 with path filled,
 * 0 when the kernel should have the call (not AF_UNIX, abstract, unnamed,
 * unreadable), or a negative errno. */
static int unix_path(struct sbx_call *c, uint64_t addr, uint64_t len,
		     char *path)
{
	struct sockaddr_un sun;
	size_t n;

	if (!addr || len <= offsetof(struct sockaddr_un, sun_path) ||
	    len > sizeof(sun))
		return 0;
	memset(&sun, 0, sizeof(sun));
	if (sbx_read_mem(c, addr, &sun, (size_t)len) < 0 ||
	    sun.sun_family != AF_UNIX || !sun.sun_path[0])
		return 0;
	n = len - offsetof(struct sockaddr_un, sun_path);
	memcpy(path, sun.sun_path, n);
	path[n] = '\0';
	return 1;
}

/* Our copy of the caller's descriptor fd. */
static int caller_fd(struct sbx_call *c, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, c->tid, 0), r;

	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, sbx_tgid(c), 0);
	if (pidfd < 0)
		return -errno;
	r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	r = r < 0 ? -errno : r;
	close(pidfd);
	if (r == -EPERM || r == -ENOSYS) {
		fprintf(stderr, "fusebox: a Unix socket on a mount needs "
				"pidfd_getfd(2), which is refused here\n");
		return -EOPNOTSUPP;
	}
	return r;
}

static int local_addr(struct vfs_mount *m, struct vfs_inode *ino,
		      struct sockaddr_un *sun, socklen_t *len)
{
	int err;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	err = vfs_local_path(m, ino, sun->sun_path, sizeof(sun->sun_path));
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			   strlen(sun->sun_path) + 1);
	return err;
}

long sbx_sys_bind(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct sbx_named nm;
	struct vfs_mount *m;
	struct vfs_inode *ino = NULL;
	struct sockaddr_un sun;
	socklen_t len;
	long err;
	int fd, r = unix_path(c, a[1], a[2], path);

	if (r <= 0)
		return r ? r : SBX_CONTINUE;
	err = sbx_parent_of_path(c, AT_FDCWD, path, &nm);
	if (err)
		return err;
	if (nm.dir.where != SBX_VIRTUAL) {
		sbx_named_put(c->sb, &nm);
		return nm.mountpoint ? -EADDRINUSE : SBX_CONTINUE;
	}
	m = nm.dir.mnt->fs->m;
	fd = caller_fd(c, (int)a[0]);
	if (fd < 0) {
		sbx_named_put(c->sb, &nm);
		return fd;
	}
	/* Linux checks the socket first (EINVAL if bound already). */
	len = sizeof(sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path)) {
		err = -EINVAL;
		goto out;
	}
	err = vfs_mknod(m, sbx_who_umask(c), nm.dir.ino, &nm.last,
			S_IFSOCK | 0777, 0, &ino);
	if (err == -EEXIST)
		err = -EADDRINUSE;
	if (err)
		goto out;
	err = local_addr(m, ino, &sun, &len);
	if (!err) {
		unlink(sun.sun_path); /* a node that once had this id */
		if (bind(fd, (struct sockaddr *)&sun, len) < 0)
			err = -errno;
	}
	if (err) /* Linux removes the node it made when bind fails */
		vfs_unlink(m, sbx_who(c), nm.dir.ino, &nm.last);
	vfs_inode_put(m, ino);
out:
	close(fd);
	sbx_named_put(c->sb, &nm);
	return err;
}

long sbx_sys_connect(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct sbx_target t;
	struct vfs_mount *m;
	struct sockaddr_un sun;
	socklen_t len;
	long err;
	int fd, r = unix_path(c, a[1], a[2], path);

	if (r <= 0)
		return r ? r : SBX_CONTINUE;
	err = sbx_resolve(c, AT_FDCWD, path, SBX_FOLLOW, &t);
	if (err)
		return err;
	if (t.where != SBX_VIRTUAL) {
		sbx_target_put(c->sb, &t);
		return SBX_CONTINUE;
	}
	m = t.mnt->fs->m;
	err = vfs_access(m, sbx_who(c), t.ino, W_OK);
	if (!err && !S_ISSOCK(t.ino->type))
		err = -ECONNREFUSED;
	if (!err)
		err = local_addr(m, t.ino, &sun, &len);
	if (!err) {
		fd = caller_fd(c, (int)a[0]);
		if (fd < 0) {
			err = fd;
		} else {
			/* A node nobody here has bound: ENOENT from the
			 * kernel, ECONNREFUSED from Linux. */
			if (connect(fd, (struct sockaddr *)&sun, len) < 0)
				err = errno == ENOENT ? -ECONNREFUSED : -errno;
			close(fd);
		}
	}
	sbx_target_put(c->sb, &t);
	return err;
}
