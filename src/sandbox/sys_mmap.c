/*
 * sys_mmap.c - mmap and msync of files on a mount.
 *
 * A mapped file's data lives in its placeholder memfd, which the kernel
 * maps: mmap is answered CONTINUE once the memfd holds the file and is a
 * mapping of it in the VFS (vfs_map_attach), which keeps it coherent with
 * read/write through the VFS and writes its stores back (mapping.h): at
 * msync, at fsync, when the file is read through the VFS, and when the
 * placeholder's last reference goes (its last close or munmap, or exit).
 * munmap itself is not trapped: like Linux, it writes nothing back.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sandbox/sandbox.h"

long sbx_sys_mmap(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_vfile *v = sbx_vfile_of(c, (int)a[4]);
	long r;

	if (!v || v->fifo) {
		if (v)
			sbx_vfile_put(c->sb, v);
		return SBX_CONTINUE; /* a FIFO: ENODEV from the kernel */
	}
	r = vfs_map_check(v->f, (int)a[2], (int)a[3]);
	if (!r)
		r = sbx_vfile_materialize(c, v);
	sbx_vfile_put(c->sb, v);
	/* The placeholder now holds the data: the kernel maps it. */
	return r ? r : SBX_CONTINUE;
}

/* The vfile whose placeholder is mapped at [start, end) of the caller
 * holding addr, and the file offset start maps. */
struct mapped_range {
	uint64_t start, end, off;
	dev_t dev;
	ino_t ino;
};

static int sync_range(struct sbx_call *c, const struct mapped_range *mr,
		      uint64_t from, uint64_t to)
{
	struct sbx_vfile *v = sbx_vfile_by_placeholder(c->sb, mr->dev, mr->ino);
	struct vfs_mapping *mp;
	int err = 0;

	if (!v)
		return 0; /* not one of ours */
	pthread_mutex_lock(&v->map_lock);
	mp = v->map;
	pthread_mutex_unlock(&v->map_lock);
	/* Set once and kept until v goes, which our reference prevents. */
	if (mp)
		err = vfs_map_sync(mp, sbx_who(c), mr->off + (from - mr->start),
				   mr->off + (to - mr->start));
	sbx_vfile_put(c->sb, v);
	return err;
}

/* msync(2): the stores in [addr, addr+len) reach the server (MS_ASYNC
 * too: it costs one comparison). The kernel then checks the arguments
 * and answers as it would. */
long sbx_sys_msync(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	uint64_t addr = a[0], end = a[0] + a[1];
	char p[64], line[512];
	FILE *maps;
	int err = 0;

	if (a[1] > UINT64_MAX - a[0])
		return SBX_CONTINUE;
	snprintf(p, sizeof(p), "/proc/%d/maps", c->tid);
	maps = fopen(p, "re");
	if (!maps)
		return SBX_CONTINUE;
	while (!err && fgets(line, sizeof(line), maps)) {
		struct mapped_range mr;
		unsigned maj, min;
		uint64_t ino;
		char perms[8];

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64
			   " %x:%x %" SCNu64, &mr.start, &mr.end, perms,
			   &mr.off, &maj, &min, &ino) != 7)
			continue;
		if (mr.end <= addr || mr.start >= end || perms[3] != 's' ||
		    !ino)
			continue;
		mr.dev = makedev(maj, min);
		mr.ino = (ino_t)ino;
		err = sync_range(c, &mr, addr > mr.start ? addr : mr.start,
				 end < mr.end ? end : mr.end);
	}
	fclose(maps);
	return err ? err : SBX_CONTINUE;
}
