/*
 * iptc.h: pks-fw's header.  Its chain in the filter table, through
 * libiptc, and its seccomp allow-list.
 *
 * The chain PKS (IPv4 and IPv6) is jumped to from INPUT as its first
 * rule and holds, in this order:
 *	per service:	-p P --dport N -m conntrack --ctstate EST,REL -j ACCEPT
 *	per window:	-s ADDR/32|128 -p P --dport N -j ACCEPT
 *	per service:	-p P --dport N -j DROP
 * Every change rebuilds the chain of the family it touches from the
 * state kept here, under the xtables lock, so the kernel always holds
 * exactly that state.  Functions return 0 or an errno value.
 */
#ifndef PKS_FW_IPTC_H
#define PKS_FW_IPTC_H

#include <stddef.h>

#include "pks.h"
#include "sandbox.h"

#define FW_CHAIN	"PKS"
#define FW_LOCKFILE	"/run/xtables.lock"	/* iptables(8) uses it too */
#define FW_RETRIES	10	/* commits refused with EAGAIN */
#define FW_LOCK_WAIT_MS	5000	/* give up on the lock after this */
#define FW_WINDOWS_MAX	8192	/* open windows at once */

/* iptc.c */
int	fw_lock_open(const char *);
int	fw_check_service(const struct pks_fw_service *);
int	fw_check(const struct pks_window *);
int	fw_init(const struct pks_fw_service *, size_t);
int	fw_open(const struct pks_window *);
int	fw_close(const struct pks_window *);
int	fw_close_all(void);
size_t	fw_nwindows(void);
size_t	fw_nrules(int);

/* sandbox.c */
extern const struct sandbox_rule	sandbox_fw[];
extern const size_t			sandbox_fw_len;

#ifdef PKS_TESTHOOKS
/* called between the rebuild and iptc_commit, with the attempt number */
extern void	(*fw_precommit_hook)(int af, int attempt);
#endif

#endif /* PKS_FW_IPTC_H */
