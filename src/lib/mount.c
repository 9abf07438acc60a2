/*
 * mount.c - fb_mount and fb_unmount: a libfusebox handle's life.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "lib/fs.h"

#define DESTROY_TIMEOUT_MS 5000

void fb_options_init(struct fb_options *o)
{
	memset(o, 0, sizeof(*o));
}

static void fill_fs_ids(struct fuse_caller *who)
{
	who->uid = (uint32_t)setfsuid((uid_t)-1);
	who->gid = (uint32_t)setfsgid((gid_t)-1);
	who->pid = (uint32_t)getpid();
}

static void fill_real_ids(struct fuse_caller *who)
{
	who->uid = (uint32_t)getuid();
	who->gid = (uint32_t)getgid();
	who->pid = (uint32_t)getpid();
}

/* The ids are read when a permission check or a request needs them
 * (fuse_caller_ids), on this thread and within this call, so a program
 * that changes its fsuid between calls is seen; a call answered from the
 * caches makes none of these three syscalls. */
void fb_caller(struct fuse_caller *who, int real_ids)
{
	who->fill = real_ids ? fill_real_ids : fill_fs_ids;
	who->ngroups = -1; /* read when a check needs them */
}

void fb_caller_umask(struct fuse_caller *who)
{
	char line[128];
	FILE *f = fopen("/proc/thread-self/status", "r");
	unsigned um = 022;

	/* umask(2) cannot be read without being set; /proc says it. */
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &um) == 1)
			break;
	if (f)
		fclose(f);
	who->umask = um & 0777;
}

/* Both ends of the channel get buffers for the largest message: a reply
 * of 256 pages and its header, with room to spare. */
#define CHAN_BUF_WANT (2 * 1024 * 1024)
#define PAGE_SZ 4096

int fb_mount(int chan_fd, const struct fb_options *opts,
	     struct fb_fs **out)
{
	return fb_mount_chan(chan_fd, opts, 0, out);
}

int fb_mount_chan(int chan_fd, const struct fb_options *opts,
		  long server_max_msg, struct fb_fs **out)
{
	long own_max_msg, max_msg, pages_fit;
	struct fb_options o;
	struct fuse_conn_params p = { 0 };
	struct fuse_chan *ch;
	struct fb_fs *fs;
	int err;

	if (opts)
		o = *opts;
	else
		fb_options_init(&o);
	if (o.max_pages > 256)
		return -EINVAL;
	p.max_read = o.max_read;
	p.max_pages_limit = o.max_pages ? o.max_pages : 256;
	/* Offer no more pages than one reply message can carry. */
	own_max_msg = fuse_socket_grow(chan_fd, CHAN_BUF_WANT);
	max_msg = server_max_msg ? server_max_msg : own_max_msg;
	pages_fit = (max_msg - (long)sizeof(struct fuse_out_header)) / PAGE_SZ;
	if (pages_fit < 1) {
		close(chan_fd);
		return -ENOBUFS;
	}
	if ((long)p.max_pages_limit > pages_fit)
		p.max_pages_limit = (uint32_t)pages_fit;
	if (p.max_read && (long)p.max_read > max_msg - 16)
		p.max_read = (uint32_t)(max_msg - 16);
	p.max_inflight = o.max_inflight ? o.max_inflight : 256;
	p.debug = o.debug;
	p.no_writeback = o.no_writeback || !vfs_pc_writeback_default();

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		close(chan_fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&fs->fd_lock, NULL);
	pthread_mutex_init(&fs->map_lock, NULL);
	pthread_mutex_init(&fs->calls_lock, NULL);
	pthread_cond_init(&fs->calls_cv, NULL);
	err = fuse_chan_socket_new(chan_fd, &ch);
	if (err)
		goto fail;
	err = fuse_conn_new(ch, &p, &fs->conn);
	if (err) {
		ch->ops->destroy(ch);
		goto fail;
	}
	err = vfs_mount_new(fs->conn, o.max_dentries ? o.max_dentries : 65536,
			    &fs->m);
	if (err) {
		fuse_conn_free(fs->conn);
		goto fail;
	}
	fs->m->read_only = o.read_only != 0;
	fs->m->default_permissions = o.default_permissions != 0;
	*out = fs;
	return 0;
fail:
	pthread_cond_destroy(&fs->calls_cv);
	pthread_mutex_destroy(&fs->calls_lock);
	pthread_mutex_destroy(&fs->fd_lock);
	pthread_mutex_destroy(&fs->map_lock);
	free(fs);
	return err;
}

int fb_enter(struct fb_fs *fs)
{
	int err = 0;

	pthread_mutex_lock(&fs->calls_lock);
	if (fs->unmounting)
		err = -ENOTCONN;
	else
		fs->calls++;
	pthread_mutex_unlock(&fs->calls_lock);
	return err;
}

void fb_leave(struct fb_fs *fs)
{
	pthread_mutex_lock(&fs->calls_lock);
	if (--fs->calls == 0)
		pthread_cond_broadcast(&fs->calls_cv);
	pthread_mutex_unlock(&fs->calls_lock);
}

int fb_wait_init(struct fb_fs *fs)
{
	return fuse_conn_wait_init(fs->conn);
}

const char *fb_conn_error(struct fb_fs *fs)
{
	return fuse_conn_error(fs->conn);
}

int fb_conn_info(struct fb_fs *fs, struct fb_conn_info *info)
{
	const struct fuse_conn_limits *l = &fs->conn->lim;
	int err = fuse_conn_wait_init(fs->conn);

	if (err)
		return err;
	info->proto_major = l->major;
	info->proto_minor = l->minor;
	info->max_write = l->max_write;
	info->max_read = l->max_read;
	info->max_readahead = l->max_readahead;
	info->max_pages = l->max_pages;
	info->max_background = l->max_background;
	info->congestion_threshold = l->congestion_threshold;
	info->time_gran = l->time_gran;
	info->flags = l->flags;
	return 0;
}

int fb_unmount(struct fb_fs *fs)
{
	int status = 0;

	pthread_mutex_lock(&fs->calls_lock);
	fs->unmounting = true;
	pthread_mutex_unlock(&fs->calls_lock);
	/* Mappings end first, as at exit(2): their stores reach the
	 * server while it is there. The memory stays mapped. */
	fb_map_end_all(fs);
	/* Descriptors still open are closed as exit(2) would close them. */
	for (int fd = 0; fd < fs->n_fds; fd++) {
		struct vfs_file *f = fb_fd_remove(fs, fd);

		if (f)
			vfs_file_put(f);
	}
	/* A server that never answered INIT gets no DESTROY; one that
	 * did gets the dirty data still held for files opened elsewhere
	 * first, as Linux's umount syncs before DESTROY. */
	if (fuse_conn_ready(fs->conn)) {
		struct fuse_caller who;

		fb_caller(&who, 1);
		vfs_wb_sync_mount(fs->m, &who);
		fuse_op_destroy(fs->conn, DESTROY_TIMEOUT_MS);
	}
	fb_server_stop(fs, &status);
	/* Release calls still waiting on the server, then wait for them
	 * to leave before anything is freed. */
	fuse_conn_abort(fs->conn, -ECONNABORTED, "the filesystem was unmounted");
	pthread_mutex_lock(&fs->calls_lock);
	while (fs->calls)
		pthread_cond_wait(&fs->calls_cv, &fs->calls_lock);
	pthread_mutex_unlock(&fs->calls_lock);
	vfs_mount_free(fs->m);
	fuse_conn_free(fs->conn);
	if (fs->server_pid)
		fb_server_reap(fs, &status);
	free(fs->fds);
	pthread_cond_destroy(&fs->calls_cv);
	pthread_mutex_destroy(&fs->calls_lock);
	pthread_mutex_destroy(&fs->fd_lock);
	pthread_mutex_destroy(&fs->map_lock);
	free(fs);
	return status;
}

void fb_cache_set_limit(size_t bytes)
{
	vfs_pc_set_limit(bytes);
}

void fb_cache_stats(struct fb_cache_stats *st)
{
	struct vfs_pc_stats s;

	vfs_pc_get_stats(&s);
	st->bytes = s.bytes;
	st->limit = s.limit;
	st->hit_bytes = s.hit_bytes;
	st->miss_bytes = s.miss_bytes;
	st->evicted = s.evicted;
	st->dirty = s.dirty;
}

void fb_cache_set_writeback(int on)
{
	vfs_pc_set_writeback(on != 0);
}
