/*
 * mounts.c - the sandbox's mount table: mount(2) of type fuse or fuse.*
 * attaches an emulated /dev/fuse at a directory and starts INIT;
 * umount2(2) detaches it. A mount lives while anything refers to it (the
 * table, open files, current directories, calls in progress); the last
 * reference ends the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "sandbox/mountinfo.h"
#include "sandbox/sandbox.h"

#define DESTROY_TIMEOUT_MS 2000

void sbx_mount_get(struct sbx_mount *mt)
{
	__atomic_add_fetch(&mt->refs, 1, __ATOMIC_RELAXED);
}

/* The connection's end: DESTROY (only when fusebox itself tears the
 * sandbox down, as the issue of a clean exit asks), then the server's
 * reads fail with ENODEV. */
static void mount_shutdown(struct sbx *sb, struct sbx_mount *mt, bool destroy)
{
	/* Dirty data of files still open reaches the server first, as
	 * Linux's umount syncs the filesystem. */
	if (fuse_conn_ready(mt->fs->conn))
		vfs_wb_sync_mount(mt->fs->m, NULL);
	if (destroy && fuse_conn_ready(mt->fs->conn))
		fuse_op_destroy(mt->fs->conn, DESTROY_TIMEOUT_MS);
	fuse_conn_abort(mt->fs->conn, -ENOTCONN,
			"the filesystem was unmounted");
	sbx_dev_shutdown(sb, mt->dev);
	/* Watches end now (IN_UNMOUNT), as Linux's at umount, not when
	 * the last user of the detached mount lets go. */
	vfs_fsnotify_unmount(mt->fs->m);
}

void sbx_mount_put(struct sbx *sb, struct sbx_mount *mt)
{
	if (__atomic_sub_fetch(&mt->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/* Detached and unused: nothing can reach it any more. */
	sbx_vpoll_mount_end(mt);
	fb_unmount(mt->fs);
	free(mt->path);
	free(mt);
}

struct sbx_mount *sbx_mount_at(struct sbx *sb, const char *path)
{
	struct sbx_mount *found = NULL;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_mount *mt = sb->mounts; mt; mt = mt->next)
		if (!strcmp(mt->path, path)) {
			found = mt;
			sbx_mount_get(mt);
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

struct sbx_mount *sbx_mount_over(struct sbx *sb, dev_t dev, ino_t ino)
{
	struct sbx_mount *found = NULL;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_mount *mt = sb->mounts; mt; mt = mt->next)
		if (mt->under_dev == dev && mt->under_ino == ino) {
			found = mt;
			sbx_mount_get(mt);
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

static bool is_fuse_type(const char *t)
{
	return !strcmp(t, "fuse") || !strncmp(t, "fuse.", 5) ||
	       !strcmp(t, "fuseblk") || !strncmp(t, "fuseblk.", 8);
}

/* Mount ids above every id the host shows, so that ours never clash. */
static int first_mount_id(void)
{
	char buf[65536];
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int max;

	if (fd < 0)
		return 1000;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	max = sbx_mountinfo_max_id(buf, (size_t)n);
	return (max < 1000 ? 1000 : max) + 1;
}

long sbx_sys_mount(struct sbx_call *c)
{
	struct sbx *sb = c->sb;
	const __u64 *a = c->n->data.args;
	char fstype[80], source[PATH_MAX], target[PATH_MAX], data[4096];
	char fdpath[64];
	struct sbx_fuse_opts o;
	struct sbx_target t;
	struct sbx_device *dev;
	struct sbx_mount *mt;
	struct fb_options fo;
	struct stat st;
	long err;
	int chan;

	if (!a[2] || sbx_read_str(c, a[2], fstype, sizeof(fstype)) < 0)
		return SBX_CONTINUE;
	if (!is_fuse_type(fstype))
		return SBX_CONTINUE;
	if (a[3] & (MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED | MS_PRIVATE |
		    MS_SLAVE | MS_UNBINDABLE))
		return -EINVAL;
	source[0] = '\0';
	if (a[0] && sbx_read_str(c, a[0], source, sizeof(source)) < 0)
		return -EFAULT;
	data[0] = '\0';
	if (a[4]) {
		/* The kernel copies one page of data, which may end without
		 * a NUL if the string is longer. */
		err = sbx_read_str(c, a[4], data, sizeof(data));
		if (err == -ENAMETOOLONG)
			data[sizeof(data) - 1] = '\0';
		else if (err < 0)
			return -EFAULT;
	}
	err = sbx_read_str(c, a[1], target, sizeof(target));
	if (err < 0)
		return err;
	err = sbx_fuse_opts_parse(fstype, a[0] ? source : NULL, data,
				  (unsigned long)a[3], &o);
	if (err)
		return err;
	if (o.is_blk)
		return -ENOTBLK; /* no block devices in the sandbox */
	if (!sbx_call_valid(c))
		return -EINTR;

	/* The descriptor must be one of our /dev/fuse ends, not mounted. */
	snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", c->tid, o.fd);
	if (stat(fdpath, &st) < 0)
		return -EBADF;
	dev = sbx_dev_by_ino(sb, st.st_ino);
	if (!dev || dev->mnt || dev->dead)
		return -EINVAL;

	err = sbx_resolve(c, AT_FDCWD, target, SBX_FOLLOW, &t);
	if (err)
		return err;
	if (t.where == SBX_VIRTUAL) {
		/* A mount inside a fusebox mount is not supported yet. */
		sbx_target_put(sb, &t);
		return -EINVAL;
	}
	/* The kernel's view of the target, from the caller's cwd. */
	{
		char kpath[PATH_MAX + 64], canon[PATH_MAX];

		if (target[0] == '/')
			snprintf(kpath, sizeof(kpath), "%s", target);
		else
			snprintf(kpath, sizeof(kpath), "/proc/%d/cwd/%s",
				 c->tid, target);
		if (stat(kpath, &st) < 0)
			return -errno;
		if (!realpath(kpath, canon))
			return -errno;
		snprintf(target, sizeof(target), "%s", canon);
	}
	if (S_ISDIR(st.st_mode) != S_ISDIR(o.rootmode))
		return -ENOTDIR;
	/* mount(2) needs CAP_SYS_ADMIN; fusermount3 lets a user mount on a
	 * directory they may write. We follow fusermount3. */
	{
		const struct fuse_caller *w = sbx_who(c);

		if (w->uid != 0 && st.st_uid != w->uid &&
		    !(st.st_mode & S_IWOTH))
			return -EPERM;
	}
	mt = sbx_mount_at(sb, target);
	if (mt) {
		sbx_mount_put(sb, mt);
		return -EBUSY;
	}

	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return -ENOMEM;
	mt->path = strdup(target);
	chan = dup(dev->ours);
	fb_options_init(&fo);
	fo.max_read = o.max_read ? o.max_read : sb->opts.max_read;
	fo.debug = sb->opts.debug;
	fo.read_only = (a[3] & MS_RDONLY) != 0;
	fo.default_permissions = o.default_permissions;
	err = !mt->path || chan < 0 ? -ENOMEM
				    : fb_mount_chan(chan, &fo, 0, &mt->fs);
	if (err) {
		free(mt->path);
		free(mt);
		return err;
	}
	/* NOTIFY_POLL updates pipe placeholders (vpoll.c). */
	sbx_vpoll_mount_init(sb, mt);
	mt->pathlen = strlen(mt->path);
	mt->under_dev = st.st_dev;
	mt->under_ino = st.st_ino;
	mt->dev = dev;
	mt->opts = o;
	mt->flags = (unsigned long)a[3];
	snprintf(mt->fstype, sizeof(mt->fstype), "%s", fstype);
	mt->refs = 1; /* the table's */

	pthread_mutex_lock(&sb->lock);
	if (!sb->next_mnt_id)
		sb->next_mnt_id = first_mount_id();
	mt->id = sb->next_mnt_id++;
	dev->mnt = mt;
	mt->next = sb->mounts;
	sb->mounts = mt;
	__atomic_add_fetch(&sb->n_mounts, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

/* Take mt out of the table; the caller owns the table's reference. */
static bool unlink_mount(struct sbx *sb, struct sbx_mount *mt)
{
	bool found = false;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_mount **pp = &sb->mounts; *pp; pp = &(*pp)->next)
		if (*pp == mt) {
			*pp = mt->next;
			found = true;
			mt->detached = true;
			__atomic_sub_fetch(&sb->n_mounts, 1, __ATOMIC_RELAXED);
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

long sbx_sys_umount2(struct sbx_call *c)
{
	struct sbx *sb = c->sb;
	const __u64 *a = c->n->data.args;
	int flags = (int)a[1];
	char target[PATH_MAX];
	struct sbx_target t;
	struct sbx_mount *mt;
	long err;

	err = sbx_read_str(c, a[0], target, sizeof(target));
	if (err < 0)
		return err;
	if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW))
		return -EINVAL;
	if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH)))
		return -EINVAL;
	err = sbx_resolve(c, AT_FDCWD, target,
			  (flags & UMOUNT_NOFOLLOW) ? 0 : SBX_FOLLOW, &t);
	if (err)
		return err;
	if (t.where != SBX_VIRTUAL)
		return SBX_CONTINUE;
	mt = t.mnt;
	if (t.ino != mt->fs->m->root) {
		sbx_target_put(sb, &t);
		return -EINVAL; /* not a mountpoint */
	}
	{
		const struct fuse_caller *w = sbx_who(c);

		if (w->uid != 0 && w->uid != mt->opts.user_id) {
			sbx_target_put(sb, &t);
			return -EPERM;
		}
	}
	if (flags & MNT_EXPIRE) {
		sbx_target_put(sb, &t);
		return -EAGAIN;
	}
	/* Busy: anything but the table and this call refers to it. A
	 * process that just exited may still hold a cwd or open file here
	 * until the reaper and inotify threads notice: settle both first,
	 * as Linux has released them by the time wait(2) returns. */
	if (!(flags & (MNT_DETACH | MNT_FORCE)) &&
	    __atomic_load_n(&mt->refs, __ATOMIC_RELAXED) > 2) {
		sbx_procs_reap(sb, 0);
		sbx_vfile_drain(sb, true);
		sbx_fifo_gc(sb, mt, false);
	}
	if (!(flags & (MNT_DETACH | MNT_FORCE)) &&
	    __atomic_load_n(&mt->refs, __ATOMIC_RELAXED) > 2) {
		sbx_target_put(sb, &t);
		return -EBUSY;
	}
	if (!unlink_mount(sb, mt)) {
		sbx_target_put(sb, &t);
		return -EINVAL;
	}
	/* As Linux for a plain fuse mount: no DESTROY; the server's next
	 * read fails with ENODEV. */
	mount_shutdown(sb, mt, false);
	sbx_target_put(sb, &t);
	sbx_mount_put(sb, mt); /* the table's reference */
	return 0;
}

void sbx_unmount_all(struct sbx *sb)
{
	for (;;) {
		struct sbx_mount *mt;

		pthread_mutex_lock(&sb->lock);
		mt = sb->mounts;
		pthread_mutex_unlock(&sb->lock);
		if (!mt)
			break;
		if (!unlink_mount(sb, mt))
			continue;
		sbx_fifo_gc(sb, mt, true);
		mount_shutdown(sb, mt, true);
		sbx_mount_put(sb, mt);
	}
}
