/*
 * fw.h: pks-fw's header.  The backend-neutral state (fw.c) and the
 * interface each firewall backend implements (iptc.c, ...).
 *
 * fw.c holds the protected services and the open windows, validates
 * every request, counts how many windows share one rule (same address,
 * protocol and port) and undoes its own change when the backend fails.
 * A backend only makes the kernel hold that state: it is told which
 * rule appeared or went away and reads the whole state with
 * fw_services(), fw_allows(), fw_observing() and fw_rules() when it
 * needs it.  Functions return 0
 * or an errno value.
 */
#ifndef PKS_FW_FW_H
#define PKS_FW_FW_H

#include <stddef.h>
#include <stdint.h>

#include "pks.h"
#include "sandbox.h"

#define FW_WINDOWS_MAX	8192	/* open windows at once */
#define FW_CHECK_MS	5000	/* backend check() this often */
#define FW_CHECK_BUSY_MS 250	/* and again this soon when it could not
				   look (EWOULDBLOCK) */

/* what a window rule matches; windows with the same key share a rule */
struct fw_key {
	uint8_t		af;
	uint8_t		proto;
	uint16_t	port;
	uint8_t		addr[16];	/* IPv4: first 4 bytes, rest zero */
};

struct fw_rule {
	struct fw_key	key;
	unsigned int	refs;		/* windows holding it open */
	uint32_t	timeout;	/* seconds it has left, at open() */
	int64_t		deadline;	/* CLOCK_MONOTONIC second it ends */
};

struct fw_backend {
	const char	*name;
	/* before the chroot: files, sockets it cannot reach afterwards */
	int		(*prepare)(void);
	/* the services and no window; a previous run's state removed */
	int		(*setup)(void);
	/* rule r was added to the state (the state already holds it),
	 * or, with expires, its timeout changed */
	int		(*open)(const struct fw_rule *r);
	/* rule r was removed from the state (it no longer holds it) */
	int		(*close)(const struct fw_rule *r);
	/* every rule was removed from the state */
	int		(*close_all)(void);
	/* does the kernel still hold the state?  If not, put it back
	 * (and log it).  0, or an errno; EWOULDBLOCK: it could not look
	 * now (someone holds a lock), soon again.  NULL: the kernel keeps
	 * others out (nftables' owner flag) */
	int		(*check)(void);
	/* the kernel closes a rule at its timeout by itself */
	int		 expires;
	/* the capabilities it keeps and its seccomp rules */
	const int			*caps;
	size_t				 ncaps;
	const struct sandbox_rule	*sandbox;
	size_t				 sandbox_len;
};

/* fw.c */
int	fw_check_service(const struct pks_fw_service *);
int	fw_check(const struct pks_window *);
int	fw_service_add(const struct pks_fw_service *);
int	fw_check_allow(const struct pks_fw_allow *);
int	fw_allow_add(const struct pks_fw_allow *);
int	fw_mode_set(uint32_t, uint32_t);
uint16_t fw_nflog_group(void);
int	fw_observing(void);
const struct pks_fw_allow	*fw_allows(size_t *);
int	fw_setup(const struct fw_backend *);
int	fw_init(const struct fw_backend *, const struct pks_fw_service *,
	    size_t);
int	fw_open(const struct pks_window *);
int	fw_close(const struct pks_window *);
int	fw_close_all(void);
size_t	fw_nwindows(void);
size_t	fw_nrules(int);
const struct pks_fw_service	*fw_services(size_t *);
const struct fw_rule		*fw_rules(size_t *);
const char	*fw_keystr(const struct fw_key *, char *, size_t);

/* iptc.c */
extern const struct fw_backend	fw_iptc;
#define FW_CHAIN	"PKS"
#define FW_LOCKFILE	"/run/xtables.lock"	/* iptables(8) uses it too */
#define FW_RETRIES	10	/* commits refused with EAGAIN */
#define FW_LOCK_WAIT_MS	5000	/* give up on the lock after this */
int	fw_lock_open(const char *);
int	iptc_legacy_rules(void);
#ifdef PKS_TESTHOOKS
/* called between the rebuild and iptc_commit, with the attempt number */
extern void	(*fw_precommit_hook)(int af, int attempt);
#endif

/* nft.c */
extern const struct fw_backend	fw_nft;

/* observe.c: mode observe, the NFLOG group the backends log to */
#define FW_NFLOG_RANGE	40	/* bytes of a packet copied: its source */
#define FW_OBSERVE_MS	1000	/* changed counts sent this often */
int	observe_prepare(void);
int	observe_fd(void);
const char	*observe_prefix(const struct pks_fw_service *, char *, size_t);
int	observe_read(void);
int	observe_input(const void *, size_t);
int	observe_seed(const struct pks_fw_observed *);
int	observe_next(struct pks_fw_observed *);
int	observe_flush_in(void);
extern struct sandbox_rule	observe_sandbox[];
extern const size_t		observe_sandbox_len;

/* sandbox.c: what pks-fw needs whatever the backend, beside its rules */
extern const struct sandbox_rule	sandbox_fw[];
extern const size_t			sandbox_fw_len;

#endif /* PKS_FW_FW_H */
