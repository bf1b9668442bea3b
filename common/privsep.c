/*
 * privsep.c: how a child gives up what it does not need.
 *
 * Order matters (each of these has bitten a privsep daemon): supplementary
 * groups, bounding set and chroot while still root; keep capabilities
 * across the uid change only where asked; PR_SET_PDEATHSIG after the
 * last set*id, which clears it, then check the parent is still there.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pks.h"
#include "privsep.h"

int
privsep_lookup_user(const char *name, unsigned int *uid, unsigned int *gid)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	if (pw->pw_uid == 0) {
		errno = EPERM;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* the children's chroot: a directory only root may write to */
void
privsep_check_chroot(const char *dir)
{
	struct stat	st;

	if (stat(dir, &st) == -1)
		fatal("chroot %s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		fatalx("chroot %s must be a directory owned by root and "
		    "writable by root only", dir);
}

static void
caps_set(const int *keep, size_t nkeep)
{
	struct __user_cap_header_struct	hdr;
	struct __user_cap_data_struct	data[2];
	size_t				i;

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	for (i = 0; i < nkeep; i++) {
		int	c = keep[i];

		data[c / 32].effective |= 1U << (c % 32);
		data[c / 32].permitted |= 1U << (c % 32);
	}
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("capset");
}

static int
cap_kept(int cap, const int *keep, size_t nkeep)
{
	size_t	i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == cap)
			return 1;
	return 0;
}

/*
 * Drop to the configured user inside the chroot, keeping only the
 * capabilities in keep[] (none for most children).
 */
void
privsep_drop(const struct pks_conf_proc *pc, const int *keep, size_t nkeep)
{
	pid_t	parent = getppid();
	uid_t	uid = pc->uid;
	gid_t	gid = pc->gid;
	int	c;

	if (uid == 0)
		fatalx("refusing to run a child as root");
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");

	/* the bounding set needs CAP_SETPCAP: drop it while root */
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		if (cap_kept(c, keep, nkeep))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			fatal("PR_CAPBSET_DROP %d", c);
	}

	privsep_check_chroot(pc->chroot);
	if (chroot(pc->chroot) == -1)
		fatal("chroot %s", pc->chroot);
	if (chdir("/") == -1)
		fatal("chdir /");

	if (nkeep > 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid");
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid");
	if (nkeep > 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	caps_set(keep, nkeep);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");

	/* make sure it stuck */
	if (setresuid(0, 0, 0) != -1 || getuid() != uid || geteuid() != uid)
		fatalx("could not drop root");

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* set*id cleared the parent-death signal: set it now, then make
	 * sure the parent did not die before it was set */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		fatalx("monitor went away");
}
