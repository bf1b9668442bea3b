/*
 * fw.c: pks-fw's state, written once above the backends.
 *
 * The services and the open windows live here, and so does every
 * check of a request.  A change is made to the state first, then the
 * backend is asked to make the kernel follow; if it cannot, the change
 * is undone, so the state always describes what the kernel was last
 * told successfully.  Windows with the same key (address, protocol,
 * port) share one rule, counted.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pks.h"
#include "fw.h"

struct fw_win {
	uint32_t	id;
	struct fw_key	key;
};

static const struct fw_backend	*fw_be;
static struct pks_fw_service	 fw_svcs[PKS_SERVICES_MAX];
static size_t			 fw_nsvcs;
static struct fw_win		 fw_wins[FW_WINDOWS_MAX];
static size_t			 fw_nwins;
static struct fw_rule		 fw_rule[FW_WINDOWS_MAX];
static size_t			 fw_nrule;
static struct pks_fw_allow	 fw_allow[PKS_ALLOW_MAX];
static size_t			 fw_nallow;
static uint32_t			 fw_mode = PKS_MODE_ENFORCE;
static uint16_t			 fw_group = PKS_NFLOG_GROUP;

/* ---------------------------------------------------------- checks */

int
fw_check_service(const struct pks_fw_service *s)
{
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return EINVAL;
	if (s->port == 0 || s->pad != 0)
		return EINVAL;
	return 0;
}

static int
fw_is_service(uint8_t proto, uint16_t port)
{
	size_t	i;

	for (i = 0; i < fw_nsvcs; i++)
		if (fw_svcs[i].proto == proto && fw_svcs[i].port == port)
			return 1;
	return 0;
}

static int
fw_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

int
fw_check(const struct pks_window *w)
{
	const uint8_t	*a = w->addr;

	if (w->id == 0)
		return EINVAL;
	switch (w->af) {
	case AF_INET:
		/* unspecified, multicast, limited broadcast; v4 uses the
		 * first 4 bytes and the rest must be zero */
		if (fw_zero(a, 4) || (a[0] & 0xf0) == 0xe0 ||
		    (a[0] & a[1] & a[2] & a[3]) == 0xff || !fw_zero(a + 4, 12))
			return EINVAL;
		break;
	case AF_INET6:
		if (fw_zero(a, 16) || a[0] == 0xff)
			return EINVAL;
		break;
	default:
		return EINVAL;
	}
	if (w->proto != IPPROTO_TCP && w->proto != IPPROTO_UDP)
		return EINVAL;
	if (w->port == 0 || !fw_is_service(w->proto, w->port))
		return EINVAL;
	return 0;
}

/*
 * An allow-always pair: a prefix (host bits zero, not /0) and one of
 * the services.
 */
int
fw_check_allow(const struct pks_fw_allow *a)
{
	size_t	max, i;

	if (a->af == AF_INET)
		max = 32;
	else if (a->af == AF_INET6)
		max = 128;
	else
		return EINVAL;
	if (a->plen == 0 || a->plen > max || a->pad != 0 || a->pad2 != 0)
		return EINVAL;
	for (i = a->plen; i < 128; i++)
		if (a->addr[i / 8] & (0x80 >> (i % 8)))
			return EINVAL;
	if (!fw_is_service(a->proto, a->port))
		return EINVAL;
	return 0;
}

/* ---------------------------------------------------------- state */

static int64_t
fw_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
fw_key(struct fw_key *k, const struct pks_window *w)
{
	memset(k, 0, sizeof(*k));
	k->af = w->af;
	k->proto = w->proto;
	k->port = w->port;
	memcpy(k->addr, w->addr, w->af == AF_INET ? 4 : 16);
}

static int
fw_keyeq(const struct fw_key *a, const struct fw_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static struct fw_win *
fw_win_find(uint32_t id)
{
	size_t	i;

	for (i = 0; i < fw_nwins; i++)
		if (fw_wins[i].id == id)
			return &fw_wins[i];
	return NULL;
}

static size_t
fw_rule_find(const struct fw_key *k)
{
	size_t	i;

	for (i = 0; i < fw_nrule; i++)
		if (fw_keyeq(&fw_rule[i].key, k))
			return i;
	return fw_nrule;
}

const char *
fw_keystr(const struct fw_key *k, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (inet_ntop(k->af, k->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s %s/%u", a, k->proto == IPPROTO_TCP ? "tcp" :
	    "udp", k->port);
	return buf;
}

const struct pks_fw_service *
fw_services(size_t *n)
{
	*n = fw_nsvcs;
	return fw_svcs;
}

const struct fw_rule *
fw_rules(size_t *n)
{
	*n = fw_nrule;
	return fw_rule;
}

size_t
fw_nwindows(void)
{
	return fw_nwins;
}

/* window rules of one family */
size_t
fw_nrules(int af)
{
	size_t	i, n = 0;

	for (i = 0; i < fw_nrule; i++)
		if (fw_rule[i].key.af == af)
			n++;
	return n;
}

/* ---------------------------------------------------------- operations */

/* mode observe or enforce, and observe's NFLOG group, before
 * fw_setup() */
int
fw_mode_set(uint32_t mode, uint32_t group)
{
	if ((mode != PKS_MODE_ENFORCE && mode != PKS_MODE_OBSERVE) ||
	    group > UINT16_MAX)
		return EINVAL;
	fw_mode = mode;
	fw_group = group;
	return 0;
}

uint16_t
fw_nflog_group(void)
{
	return fw_group;
}

int
fw_observing(void)
{
	return fw_mode == PKS_MODE_OBSERVE;
}

/*
 * An allow-always pair, before fw_setup() and after the services it
 * names; a second copy is ignored.
 */
int
fw_allow_add(const struct pks_fw_allow *a)
{
	size_t	i;

	if (fw_check_allow(a) != 0)
		return EINVAL;
	for (i = 0; i < fw_nallow; i++)
		if (memcmp(&fw_allow[i], a, sizeof(*a)) == 0)
			return 0;
	if (fw_nallow >= PKS_ALLOW_MAX)
		return ENOSPC;
	fw_allow[fw_nallow++] = *a;
	return 0;
}

const struct pks_fw_allow *
fw_allows(size_t *n)
{
	*n = fw_nallow;
	return fw_allow;
}

/* A protected service, before fw_setup(); a second copy is ignored. */
int
fw_service_add(const struct pks_fw_service *s)
{
	if (fw_check_service(s) != 0)
		return EINVAL;
	if (fw_is_service(s->proto, s->port))
		return 0;
	if (fw_nsvcs >= PKS_SERVICES_MAX)
		return ENOSPC;
	fw_svcs[fw_nsvcs++] = *s;
	return 0;
}

/*
 * Start from scratch with backend be: the services and no window (what
 * a previous run left is removed); the monitor sends the windows that
 * are still open.
 */
int
fw_setup(const struct fw_backend *be)
{
	fw_be = be;
	fw_nwins = fw_nrule = 0;
	return fw_be->setup();
}

/* fw_service_add() and fw_setup() at once, all services or none */
int
fw_init(const struct fw_backend *be, const struct pks_fw_service *svcs,
    size_t n)
{
	size_t	i;

	if (n > PKS_SERVICES_MAX)
		return EINVAL;
	for (i = 0; i < n; i++)
		if (fw_check_service(&svcs[i]) != 0)
			return EINVAL;
	fw_nsvcs = 0;
	for (i = 0; i < n; i++)
		(void)fw_service_add(&svcs[i]);
	return fw_setup(be);
}

/*
 * A backend whose kernel closes rules at their timeout is told of a
 * later end of a rule it holds: a window extended, or a second window
 * on the same key that lasts longer.
 */
static int
fw_extend(struct fw_rule *r, const struct pks_window *w)
{
	struct fw_rule	saved = *r;
	int64_t		now = fw_now();
	int		err;

	if (!fw_be->expires || now + w->timeout <= r->deadline)
		return 0;
	r->deadline = now + w->timeout;
	r->timeout = w->timeout;
	if ((err = fw_be->open(r)) != 0)
		*r = saved;
	return err;
}

int
fw_open(const struct pks_window *w)
{
	struct fw_key	 k;
	struct fw_win	*win;
	size_t		 r;
	char		 buf[80];
	int		 err;

	if (fw_check(w) != 0 || w->timeout == 0 ||
	    w->timeout > PKS_WINDOW_MAX)
		return EINVAL;
	fw_key(&k, w);
	if ((win = fw_win_find(w->id)) != NULL) {
		if (!fw_keyeq(&win->key, &k))
			return EEXIST;
		return fw_extend(&fw_rule[fw_rule_find(&k)], w);
	}
	if (fw_nwins >= FW_WINDOWS_MAX)
		return ENOSPC;
	if ((r = fw_rule_find(&k)) < fw_nrule) {
		if ((err = fw_extend(&fw_rule[r], w)) != 0)
			return err;
		fw_rule[r].refs++;
		fw_wins[fw_nwins].id = w->id;
		fw_wins[fw_nwins].key = k;
		fw_nwins++;
		log_debug("window %u: %s already open", w->id,
		    fw_keystr(&k, buf, sizeof(buf)));
		return 0;
	}
	fw_rule[fw_nrule].key = k;
	fw_rule[fw_nrule].refs = 1;
	fw_rule[fw_nrule].timeout = w->timeout;
	fw_rule[fw_nrule].deadline = fw_now() + w->timeout;
	fw_nrule++;
	if ((err = fw_be->open(&fw_rule[fw_nrule - 1])) != 0) {
		/* the kernel did not take it: forget it */
		fw_nrule--;
		return err;
	}
	fw_wins[fw_nwins].id = w->id;
	fw_wins[fw_nwins].key = k;
	fw_nwins++;
	log_info("window %u: opened %s", w->id,
	    fw_keystr(&k, buf, sizeof(buf)));
	return 0;
}

int
fw_close(const struct pks_window *w)
{
	struct fw_key	 k;
	struct fw_win	*win, saved;
	struct fw_rule	 rule;
	size_t		 r, wi;
	char		 buf[80];
	int		 err;

	if (fw_check(w) != 0)
		return EINVAL;
	fw_key(&k, w);
	if ((win = fw_win_find(w->id)) == NULL)
		return ENOENT;
	if (!fw_keyeq(&win->key, &k))
		return EINVAL;
	wi = win - fw_wins;
	saved = *win;
	fw_wins[wi] = fw_wins[--fw_nwins];
	r = fw_rule_find(&k);
	if (--fw_rule[r].refs > 0)
		return 0;
	rule = fw_rule[r];
	memmove(&fw_rule[r], &fw_rule[r + 1],
	    (fw_nrule - r - 1) * sizeof(fw_rule[0]));
	fw_nrule--;
	if ((err = fw_be->close(&rule)) != 0) {
		/* still in the kernel: keep it, a retry can close it */
		memmove(&fw_rule[r + 1], &fw_rule[r],
		    (fw_nrule - r) * sizeof(fw_rule[0]));
		fw_rule[r] = rule;
		fw_rule[r].refs = 1;
		fw_nrule++;
		fw_wins[fw_nwins++] = saved;
		return err;
	}
	log_info("window %u: closed %s", w->id,
	    fw_keystr(&k, buf, sizeof(buf)));
	return 0;
}

/*
 * Close every window, keep the services: fail-closed.  The state is
 * forgotten even if the backend fails, so that its next change removes
 * what is left.
 */
int
fw_close_all(void)
{
	int	err;

	fw_nwins = fw_nrule = 0;
	if ((err = fw_be->close_all()) == 0)
		log_info("all windows closed");
	return err;
}
