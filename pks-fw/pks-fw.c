/*
 * pks-fw: the only process that changes netfilter.
 *
 * Started by pks-monitor with its socketpair on PROC_FD.  It reads the
 * protected services, the mode and the allow-always prefixes, sets up
 * its backend (fw.h: the nftables table or the iptables chain,
 * replacing what a previous run left), keeps the capabilities the
 * backend names, enters its sandbox and then does what the monitor
 * asks: open a window, close one, close them all.  The state and every
 * check of a request are in fw.c, written once above the backends.
 * Every request gets an IMSG_FW_RESULT.  A malformed request is
 * refused (EINVAL) and changes nothing: the monitor decides what to do
 * with a child that sends nonsense.  In mode observe it also reads its
 * NFLOG group and sends the counts (observe.c).  On SIGTERM (also the
 * parent-death signal) or when the monitor goes away, every window is
 * closed before exit.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "pks.h"
#include "proc.h"
#include "fw.h"

#define SANDBOX_MAX	64	/* sandbox_fw and a backend's rules */

static volatile sig_atomic_t	quit;
static int			want = -1;	/* IMSG_FW_CONF: pks_fw_kind */

static void
fw_sig(int sig)
{
	(void)sig;
	quit = 1;
}

/* IMSG_FW_CONF, once */
static int
fw_conf_backend(struct imsg *im)
{
	struct pks_fw_conf	c;

	if (im->len != sizeof(c)) {
		log_warnx("IMSG_FW_CONF: wrong length %zu", im->len);
		return -1;
	}
	memcpy(&c, im->data, sizeof(c));
	if (want != -1 || (c.backend != PKS_FW_AUTO &&
	    c.backend != PKS_FW_NFTABLES && c.backend != PKS_FW_IPTABLES)) {
		log_warnx("IMSG_FW_CONF: %s", want != -1 ? "given twice" :
		    "unknown backend");
		return -1;
	}
	want = c.backend;
	return 0;
}

/* IMSG_FW_MODE, IMSG_FW_ALLOW, IMSG_FW_OBSERVED (after the services
 * they name, the last after the mode) */
static int
fw_conf_mode(struct imsg *im)
{
	struct pks_fw_mode	m;
	struct pks_fw_allow	a;
	struct pks_fw_observed	o;
	int			err;

	if (im->hdr.type == IMSG_FW_OBSERVED) {
		if (im->len != sizeof(o)) {
			log_warnx("IMSG_FW_OBSERVED: wrong length %zu",
			    im->len);
			return -1;
		}
		memcpy(&o, im->data, sizeof(o));
		if ((err = observe_seed(&o)) != 0) {
			log_warnx("IMSG_FW_OBSERVED: %s (af %u, proto %u, "
			    "port %u)", err == ENOSPC ? "too many" :
			    "bad count", o.af, o.proto, o.port);
			return -1;
		}
		return 0;
	}
	if (im->hdr.type == IMSG_FW_MODE) {
		if (im->len != sizeof(m)) {
			log_warnx("IMSG_FW_MODE: wrong length %zu", im->len);
			return -1;
		}
		memcpy(&m, im->data, sizeof(m));
		if (fw_mode_set(m.mode, m.nflog_group) != 0) {
			log_warnx("IMSG_FW_MODE: unknown mode %u or NFLOG "
			    "group %u", m.mode, m.nflog_group);
			return -1;
		}
		return 0;
	}
	if (im->len != sizeof(a)) {
		log_warnx("IMSG_FW_ALLOW: wrong length %zu", im->len);
		return -1;
	}
	memcpy(&a, im->data, sizeof(a));
	if ((err = fw_allow_add(&a)) != 0) {
		log_warnx("IMSG_FW_ALLOW: %s (af %u, /%u, proto %u, port %u)",
		    err == ENOSPC ? "too many" : "bad prefix or service",
		    a.af, a.plen, a.proto, a.port);
		return -1;
	}
	return 0;
}

/* IMSG_FW_CONF, IMSG_FW_SERVICE, IMSG_FW_MODE, IMSG_FW_ALLOW,
 * IMSG_FW_OBSERVED, before CONF_END; anything else is malformed */
static int
fw_conf(struct imsg *im)
{
	struct pks_fw_service	s;

	if (im->fd != -1) {
		close(im->fd);
		im->fd = -1;
		log_warnx("configuration message with a file descriptor");
		return -1;
	}
	if (im->hdr.type == IMSG_FW_CONF)
		return fw_conf_backend(im);
	if (im->hdr.type == IMSG_FW_MODE || im->hdr.type == IMSG_FW_ALLOW ||
	    im->hdr.type == IMSG_FW_OBSERVED)
		return fw_conf_mode(im);
	if (im->hdr.type != IMSG_FW_SERVICE) {
		log_warnx("unexpected configuration message %u", im->hdr.type);
		return -1;
	}
	if (im->len != sizeof(s)) {
		log_warnx("IMSG_FW_SERVICE: wrong length %zu", im->len);
		return -1;
	}
	memcpy(&s, im->data, sizeof(s));
	switch (fw_service_add(&s)) {
	case 0:
		return 0;
	case ENOSPC:
		log_warnx("IMSG_FW_SERVICE: more than %d services",
		    PKS_SERVICES_MAX);
		return -1;
	default:
		log_warnx("IMSG_FW_SERVICE: bad service (proto %u, port %u)",
		    s.proto, s.port);
		return -1;
	}
}

static const char *
fw_typename(uint32_t type)
{
	switch (type) {
	case IMSG_FW_OPEN:
		return "IMSG_FW_OPEN";
	case IMSG_FW_CLOSE:
		return "IMSG_FW_CLOSE";
	case IMSG_FW_CLOSE_ALL:
		return "IMSG_FW_CLOSE_ALL";
	default:
		return "unexpected message";
	}
}

/* One request, one result.  Length first, then every field. */
static void
fw_dispatch(struct imsg *im)
{
	struct pks_fw_result	res;
	struct pks_window	w;
	uint32_t		type = im->hdr.type;

	memset(&res, 0, sizeof(res));
	res.type = type;
	if (im->fd != -1) {
		close(im->fd);
		im->fd = -1;
		log_warnx("%s (type %u) with a file descriptor",
		    fw_typename(type), type);
		res.error = EINVAL;
		goto reply;
	}
	switch (type) {
	case IMSG_FW_OPEN:
	case IMSG_FW_CLOSE:
		if (im->len != sizeof(w)) {
			log_warnx("%s: wrong length %zu", fw_typename(type),
			    im->len);
			res.error = EINVAL;
			break;
		}
		memcpy(&w, im->data, sizeof(w));
		res.id = w.id;
		/* fw.c checks every field (EINVAL) before any change */
		res.error = type == IMSG_FW_OPEN ? fw_open(&w) : fw_close(&w);
		if (res.error != 0)
			log_warnx("%s: window %u (af %u, proto %u, port %u): "
			    "%s", fw_typename(type), w.id, w.af, w.proto,
			    w.port, strerror(res.error));
		break;
	case IMSG_FW_CLOSE_ALL:
		if (im->len != 0) {
			log_warnx("%s: wrong length %zu", fw_typename(type),
			    im->len);
			res.error = EINVAL;
			break;
		}
		res.error = fw_close_all();
		break;
	default:
		log_warnx("unexpected message type %u from monitor", type);
		res.error = EINVAL;
		break;
	}
 reply:
	proc_compose(IMSG_FW_RESULT, -1, &res, sizeof(res));
}

/* Returns 0 to go on, -1 when the monitor is gone or talks garbage. */
static int
fw_read(void)
{
	struct imsg	im;
	ssize_t		n;
	int		r;

	if ((n = imsgbuf_read(proc_ibuf)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_warn("read from monitor");
		return -1;
	}
	if (n == 0) {
		log_info("monitor went away");
		return -1;
	}
	while ((r = imsg_get(proc_ibuf, &im)) == 1) {
		fw_dispatch(&im);
		imsg_free(&im);
	}
	if (r == -1) {
		/* framing lost: no way to tell where the next one starts */
		log_warnx("malformed message framing from monitor");
		return -1;
	}
	return 0;
}

/*
 * firewall auto|nftables|iptables.  auto: iptables where the host uses
 * the legacy tables (its legacy filter table holds rules), nftables
 * otherwise.
 */
static const struct fw_backend *
fw_choose(int kind)
{
	int	n;

	switch (kind) {
	case PKS_FW_NFTABLES:
		log_info("firewall nftables: as configured");
		return &fw_nft;
	case PKS_FW_IPTABLES:
		log_info("firewall iptables: as configured");
		return &fw_iptc;
	}
	if ((n = iptc_legacy_rules()) > 0) {
		log_info("firewall auto: iptables, the legacy filter table "
		    "holds %d rule%s", n, n == 1 ? "" : "s");
		return &fw_iptc;
	}
	log_info("firewall auto: nftables, %s", n == 0 ?
	    "the legacy filter table holds no rule" :
	    "the kernel has no legacy filter table");
	return &fw_nft;
}

/*
 * Milliseconds until the backend's next check() (issue 13, L5: someone
 * else changed our rules), running it when it is due; -1 if it has none.
 */
static int
fw_check_in(const struct fw_backend *be)
{
	static int64_t	next;		/* CLOCK_MONOTONIC ms; 0: at start */
	struct timespec	now;
	int64_t		now_ms, ms;
	int		err;

	if (be->check == NULL)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (next != 0 && next > now_ms)
		return next - now_ms > FW_CHECK_MS ? FW_CHECK_MS :
		    (int)(next - now_ms);
	ms = FW_CHECK_MS;
	if (next != 0) {
		if ((err = be->check()) == EWOULDBLOCK)
			ms = FW_CHECK_BUSY_MS;	/* could not look: soon */
		else if (err != 0)
			log_warnx("checking the %s firewall: %s", be->name,
			    strerror(err));
	}
	next = now_ms + ms;
	return (int)ms;
}

/* sandbox_fw, then the backend's own rules, then observe.c's if used */
static void
fw_confine(const struct fw_backend *be)
{
	static struct sandbox_rule	rules[SANDBOX_MAX];
	size_t				n = sandbox_fw_len;
	size_t				no = fw_observing() ?
					    observe_sandbox_len : 0;

	if (n + be->sandbox_len + no > SANDBOX_MAX)
		fatalx("%s: seccomp allow-list too long", be->name);
	memcpy(rules, sandbox_fw, n * sizeof(rules[0]));
	memcpy(rules + n, be->sandbox, be->sandbox_len * sizeof(rules[0]));
	n += be->sandbox_len;
	memcpy(rules + n, observe_sandbox, no * sizeof(rules[0]));
	proc_confine(be->caps, be->ncaps, rules, n + no);
}

/*
 * Mode observe: what the NFLOG socket holds, and the counts that
 * changed to the monitor when they are due.  Returns the poll timeout
 * it needs (ms, -1: none) or -2 on a socket error.
 */
static int
fw_observe(int readable)
{
	struct pks_fw_observed	o;
	int			err, ms;

	if (readable && (err = observe_read()) != 0) {
		log_warnx("mode observe: reading the log: %s",
		    strerror(err));
		return -2;
	}
	if ((ms = observe_flush_in()) != 0)
		return ms;
	while (observe_next(&o))
		proc_compose(IMSG_FW_OBSERVED, -1, &o, sizeof(o));
	return -1;
}

/* the earlier of two poll timeouts, -1 meaning none */
static int
fw_earlier(int a, int b)
{
	if (a == -1)
		return b;
	if (b == -1)
		return a;
	return a < b ? a : b;
}

int
main(int argc, char *argv[])
{
	const struct fw_backend	*be;
	struct pks_fw_conf	 used;
	struct sigaction	 sa;
	struct pks_fw_observed	 o;
	struct pollfd		 pfd[2];
	size_t			 nsvcs, nallows;
	int			 err, ms, oms = -1;

	proc_start("pks-fw", argc, argv);
	proc_read_conf(fw_conf);

	be = fw_choose(want == -1 ? PKS_FW_AUTO : want);
	if (fw_observing() && (err = observe_prepare()) != 0)
		fatalx("mode observe: cannot bind NFLOG group %d: %s%s",
		    fw_nflog_group(), strerror(err), err == EBUSY ?
		    " (another process uses it: see nflog-group in "
		    "pks.conf(5))" : "");
	if ((err = be->prepare()) != 0 || (err = fw_setup(be)) != 0)
		fatalx("cannot set up the %s firewall: %s (does the kernel "
		    "have it? see \"firewall %s\" in pks.conf(5))", be->name,
		    strerror(err), be == &fw_nft ? "iptables" : "nftables");
	memset(&used, 0, sizeof(used));
	used.backend = be == &fw_nft ? PKS_FW_NFTABLES : PKS_FW_IPTABLES;
	proc_compose(IMSG_FW_BACKEND, -1, &used, sizeof(used));

	/* no SA_RESTART: SIGTERM must get us out of poll() */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fw_sig;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		fatal("sigaction");

	fw_confine(be);
	(void)fw_services(&nsvcs);
	(void)fw_allows(&nallows);
	log_info("%s ready, %zu service%s, %zu allow-always, mode %s",
	    be == &fw_nft ? "table inet pks" : "chain " FW_CHAIN, nsvcs,
	    nsvcs == 1 ? "" : "s", nallows, fw_observing() ? "observe" :
	    "enforce");
	if (fw_observing())
		log_warnx("mode observe: the protected ports are not closed, "
		    "new connections are counted (pksctl status); \"mode "
		    "enforce\" closes them");

	pfd[0].fd = proc_ibuf->fd;
	pfd[1].fd = observe_fd();	/* -1 unless mode observe */
	pfd[1].events = POLLIN;
	pfd[1].revents = 0;
	while (!quit) {
		pfd[0].events = POLLIN;
		ms = fw_check_in(be);
		if (pfd[1].fd != -1 &&
		    (oms = fw_observe(pfd[1].revents & POLLIN)) == -2)
			break;
		if (pfd[1].fd != -1)
			ms = fw_earlier(ms, oms);
		if (imsgbuf_pending(proc_ibuf))
			pfd[0].events |= POLLOUT;
		if (poll(pfd, 2, ms) == -1) {
			pfd[1].revents = 0;
			if (errno == EINTR)
				continue;
			log_warn("poll");
			break;
		}
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    fw_read() == -1)
			break;
		if (imsgbuf_write(proc_ibuf) == -1) {
			log_warn("write to monitor");
			break;
		}
	}

	/* counts not sent yet: the monitor gives them to the next pks-fw */
	if (fw_observing()) {
		(void)observe_read();
		while (observe_next(&o))
			proc_compose(IMSG_FW_OBSERVED, -1, &o, sizeof(o));
	}
	/* fail closed: no window outlives us */
	if ((err = fw_close_all()) != 0)
		log_warnx("closing windows: %s", strerror(err));
	(void)imsgbuf_flush(proc_ibuf);
	exit(err == 0 ? 0 : 1);
}
