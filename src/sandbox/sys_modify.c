/*
 * sys_modify.c - syscalls that would change a mount. Until the
 * read-write work lands each gives, on a mount, the errno Linux gives on
 * a read-only mount: the lookup errors first (ENOENT, ENOTDIR, EEXIST
 * for calls that create), then EROFS. Never a silent success.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "sandbox/sandbox.h"

enum kind {
	CREATE,	/* mkdir, mknod, symlink: EEXIST before EROFS */
	CHANGE,	/* chmod, chown, utimes, xattrs, truncate */
	REMOVE,	/* unlink, rmdir: EROFS even if the name is missing */
};

/* Where path lands for a call of this kind: 0 native (continue), or the
 * errno to return. */
static long classify(struct sbx_call *c, int dirfd, uint64_t addr,
		     bool follow, enum kind k, bool *virt)
{
	char path[PATH_MAX], copy[PATH_MAX];
	struct sbx_target t;
	long err;

	*virt = false;
	if (sbx_read_str(c, addr, path, sizeof(path)) < 0)
		return 0;
	err = sbx_resolve(c, dirfd, path, follow ? SBX_FOLLOW : 0, &t);
	if (err == -ENOENT && k != CHANGE) {
		snprintf(copy, sizeof(copy), "%s", path);
		err = sbx_resolve(c, dirfd, dirname(copy), SBX_FOLLOW, &t);
		if (err) {
			*virt = true;
			return err;
		}
		if (t.where != SBX_VIRTUAL)
			return -ENOENT;
		*virt = true;
		err = S_ISDIR(t.ino->type) ? -EROFS : -ENOTDIR;
		sbx_target_put(c->sb, &t);
		return err;
	}
	if (err) {
		*virt = true;
		return err;
	}
	if (t.where == SBX_NATIVE)
		return t.rewrite ? (*virt = true, -EXDEV) : 0;
	*virt = true;
	sbx_target_put(c->sb, &t);
	return k == CREATE ? -EEXIST : -EROFS;
}

/* link and rename: both names must be on the same mount. */
static long two_paths(struct sbx_call *c, int d1, uint64_t p1, int d2,
		      uint64_t p2, bool link)
{
	bool v1, v2;
	long e1 = classify(c, d1, p1, false, CHANGE, &v1);
	long e2 = classify(c, d2, p2, false, link ? CREATE : REMOVE, &v2);

	if (!v1 && !v2)
		return SBX_CONTINUE;
	if (v1 != v2)
		return e1 && e1 != -EROFS ? e1 : -EXDEV;
	if (e1 != -EROFS)
		return e1;
	return e2 ? e2 : -EROFS;
}

static long one_path(struct sbx_call *c, int dirfd, uint64_t path,
		     bool follow, enum kind k)
{
	bool virt;
	long err = classify(c, dirfd, path, follow, k, &virt);

	return virt ? err : SBX_CONTINUE;
}

long sbx_sys_modify(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	int nofollow;

	switch (c->n->data.nr) {
	case __NR_mkdir:
	case __NR_mknod:
		return one_path(c, AT_FDCWD, a[0], false, CREATE);
	case __NR_mkdirat:
	case __NR_mknodat:
		return one_path(c, (int)a[0], a[1], false, CREATE);
	case __NR_symlink:
		return one_path(c, AT_FDCWD, a[1], false, CREATE);
	case __NR_symlinkat:
		return one_path(c, (int)a[1], a[2], false, CREATE);
	case __NR_unlink:
	case __NR_rmdir:
		return one_path(c, AT_FDCWD, a[0], false, REMOVE);
	case __NR_unlinkat:
		return one_path(c, (int)a[0], a[1], false, REMOVE);
	case __NR_truncate:
	case __NR_chmod:
	case __NR_chown:
	case __NR_utime:
	case __NR_utimes:
	case __NR_setxattr:
	case __NR_removexattr:
		return one_path(c, AT_FDCWD, a[0], true, CHANGE);
	case __NR_lchown:
	case __NR_lsetxattr:
	case __NR_lremovexattr:
		return one_path(c, AT_FDCWD, a[0], false, CHANGE);
	case __NR_futimesat:
		return one_path(c, (int)a[0], a[1], true, CHANGE);
	case __NR_fchmodat:
		return one_path(c, (int)a[0], a[1],
				!((int)a[3] & AT_SYMLINK_NOFOLLOW), CHANGE);
	case __NR_fchownat:
		return one_path(c, (int)a[0], a[1],
				!((int)a[4] & AT_SYMLINK_NOFOLLOW), CHANGE);
	case __NR_utimensat:
		nofollow = (int)a[3] & AT_SYMLINK_NOFOLLOW;
		if (!a[1]) { /* futimens(dirfd) */
			struct sbx_vfile *v = sbx_vfile_of(c, (int)a[0]);

			if (!v)
				return SBX_CONTINUE;
			sbx_vfile_put(c->sb, v);
			return -EROFS;
		}
		return one_path(c, (int)a[0], a[1], !nofollow, CHANGE);
	case __NR_link:
		return two_paths(c, AT_FDCWD, a[0], AT_FDCWD, a[1], true);
	case __NR_linkat:
		return two_paths(c, (int)a[0], a[1], (int)a[2], a[3], true);
	case __NR_rename:
		return two_paths(c, AT_FDCWD, a[0], AT_FDCWD, a[1], false);
	case __NR_renameat:
	case __NR_renameat2:
		return two_paths(c, (int)a[0], a[1], (int)a[2], a[3], false);
	case __NR_name_to_handle_at: {
		bool virt;
		long err = classify(c, (int)a[0], a[1], true, CHANGE, &virt);

		if (!virt)
			return SBX_CONTINUE;
		return err == -EROFS ? -EOPNOTSUPP : err;
	}
	}
	return SBX_CONTINUE;
}
