/*
 * observe.c: mode observe, for both backends.
 *
 * Where mode enforce drops a new connection to a protected service, a
 * backend in mode observe lets it pass and logs it to its NFLOG group
 * (fw_nflog_group(), nflog-group in pks.conf): the first FW_NFLOG_RANGE bytes of the packet (its
 * source address) and a prefix naming the service (observe_prefix()).
 * pks-fw reads the group and counts new connections per source and
 * service: PKS_OBSERVED_MAX pairs at most, then one count per service
 * for every other source, so a flood of spoofed sources costs a bounded
 * table.  A count that changed goes to the monitor (IMSG_FW_OBSERVED)
 * at most once every FW_OBSERVE_MS, for pksctl status; the monitor
 * gives the counts back to the next pks-fw (a reload, a restart), which
 * goes on from them.
 *
 * The kernel sends what it logs; when our socket buffer is full it
 * drops log messages, never packets: then counts are low, and the
 * loss is logged.  Nothing here parses more of a packet than its IP
 * version and source address.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <libmnl/libmnl.h>

#include "log.h"
#include "pks.h"
#include "fw.h"

#define OBS_RCVBUF	(1024 * 1024)	/* log messages queued for us */
#define OBS_READS	64		/* datagrams read per poll round */

struct obs {
	struct pks_fw_observed	o;
	int			dirty;
};

static struct mnl_socket	*nflog;
static int			 nflog_fd = -1;
/* the pairs, then one entry per service for the rest */
static struct obs		 obs[PKS_OBSERVED_MAX + PKS_SERVICES_MAX];
static size_t			 nobs, npairs;
static int			 obs_dirty;
static struct timespec		 obs_next;
static char			 obs_buf[64 * 1024];

/*
 * Its seccomp rule, beside sandbox_fw and the backend's: log messages
 * come with recvmsg() on the NFLOG socket only (filled in by
 * observe_prepare()).
 */
struct sandbox_rule observe_sandbox[] = {
	SB_ARG(recvmsg, 0, 0),		/* mnl_socket_recvfrom() */
};
const size_t observe_sandbox_len = 1;

/* the NFLOG prefix of a service's rule: its protocol and port */
const char *
observe_prefix(const struct pks_fw_service *s, char *buf, size_t len)
{
	snprintf(buf, len, "pks-observe %s/%u", s->proto == IPPROTO_TCP ?
	    "tcp" : "udp", s->port);
	return buf;
}

/*
 * Bind the NFLOG group, before the sandbox: 0, or an errno (EBUSY:
 * another process holds the group).
 */
int
observe_prepare(void)
{
	struct nlmsghdr			*nh;
	struct nfgenmsg			*g;
	struct nfulnl_msg_config_cmd	 cmd = { NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode	 mode;
	char				 b[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsgerr			*e;
	uint32_t			 seq = (uint32_t)time(NULL);
	int				 rcvbuf = OBS_RCVBUF;
	ssize_t				 n;

	if ((nflog = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(nflog, 0, MNL_SOCKET_AUTOPID) == -1)
		return errno;
	nflog_fd = mnl_socket_get_fd(nflog);
	(void)setsockopt(nflog_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf));
	nh = mnl_nlmsg_put_header(b);
	nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(fw_nflog_group());
	mnl_attr_put(nh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	memset(&mode, 0, sizeof(mode));
	mode.copy_range = htonl(FW_NFLOG_RANGE);
	mode.copy_mode = NFULNL_COPY_PACKET;
	mnl_attr_put(nh, NFULA_CFG_MODE, sizeof(mode), &mode);
	/* each packet at once: the kernel's default batches up to 100 for
	 * a second, which a pks-fw stopping (a reload) would lose */
	mnl_attr_put_u32(nh, NFULA_CFG_QTHRESH, htonl(1));
	if (mnl_socket_sendto(nflog, nh, nh->nlmsg_len) == -1)
		return errno;
	if ((n = mnl_socket_recvfrom(nflog, b, sizeof(b))) == -1)
		return errno;
	nh = (struct nlmsghdr *)b;
	if (!mnl_nlmsg_ok(nh, (int)n) || nh->nlmsg_type != NLMSG_ERROR)
		return EPROTO;
	e = mnl_nlmsg_get_payload(nh);
	if (e->error != 0)
		return -e->error;
	if (fcntl(nflog_fd, F_SETFL, O_NONBLOCK) == -1)
		return errno;
	observe_sandbox[0].val = nflog_fd;
	clock_gettime(CLOCK_MONOTONIC, &obs_next);
	return 0;
}

int
observe_fd(void)
{
	return nflog_fd;
}

/* the service whose prefix this is, or NULL */
static const struct pks_fw_service *
obs_service(const char *prefix)
{
	const struct pks_fw_service	*svcs;
	char				 buf[32];
	size_t				 i, n;

	svcs = fw_services(&n);
	for (i = 0; i < n; i++)
		if (strcmp(prefix, observe_prefix(&svcs[i], buf,
		    sizeof(buf))) == 0)
			return &svcs[i];
	return NULL;
}

static void
obs_count(int af, const uint8_t *addr, const struct pks_fw_service *s)
{
	struct obs	*o;
	size_t		 i, alen = af == AF_INET ? 4 : 16;

	for (i = 0; i < nobs; i++) {
		o = &obs[i];
		if (o->o.af == af && o->o.proto == s->proto &&
		    o->o.port == s->port && memcmp(o->o.addr, addr, alen) == 0)
			goto found;
	}
	/* a new pair, or the service's "other sources" entry */
	if (npairs >= PKS_OBSERVED_MAX) {
		for (i = 0; i < nobs; i++)
			if (obs[i].o.af == 0 && obs[i].o.proto == s->proto &&
			    obs[i].o.port == s->port)
				break;
		af = 0;
		alen = 0;
	}
	if (i == nobs) {
		if (nobs >= sizeof(obs) / sizeof(obs[0]))
			return;		/* not reached: one per service */
		o = &obs[nobs++];
		memset(o, 0, sizeof(*o));
		o->o.af = af;
		o->o.proto = s->proto;
		o->o.port = s->port;
		memcpy(o->o.addr, addr, alen);
		if (af != 0)
			npairs++;
	}
	o = &obs[i];
 found:
	o->o.count++;
	o->dirty = 1;
	obs_dirty = 1;
}

/*
 * A count the monitor kept from an earlier pks-fw (part of the
 * configuration, mode observe): counting goes on from it.  0, EINVAL
 * (malformed, a service not ours, given twice) or ENOSPC (past the cap).
 */
int
observe_seed(const struct pks_fw_observed *o)
{
	const struct pks_fw_service	*svcs;
	size_t				 i, n;

	if (!fw_observing() || !pks_fw_observed_ok(o))
		return EINVAL;
	svcs = fw_services(&n);
	for (i = 0; i < n; i++)
		if (svcs[i].proto == o->proto && svcs[i].port == o->port)
			break;
	if (i == n)
		return EINVAL;
	for (i = 0; i < nobs; i++)
		if (obs[i].o.af == o->af && obs[i].o.proto == o->proto &&
		    obs[i].o.port == o->port &&
		    memcmp(obs[i].o.addr, o->addr, sizeof(o->addr)) == 0)
			return EINVAL;
	if ((o->af != 0 && npairs >= PKS_OBSERVED_MAX) ||
	    nobs >= sizeof(obs) / sizeof(obs[0]))
		return ENOSPC;
	obs[nobs].o = *o;
	obs[nobs++].dirty = 0;
	if (o->af != 0)
		npairs++;
	return 0;
}

/* one NFLOG packet message: counted if it is ours and well formed */
static int
obs_packet(const struct nlmsghdr *nh)
{
	const struct pks_fw_service	*s;
	const struct nfgenmsg		*g;
	struct nlattr			*a, *prefix = NULL, *payload = NULL;
	const uint8_t			*p;
	size_t				 len;
	int				 af;

	if (nh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) ||
	    nh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*g)))
		return -1;
	g = mnl_nlmsg_get_payload(nh);
	if (ntohs(g->res_id) != fw_nflog_group())
		return -1;
	mnl_attr_for_each(a, nh, sizeof(*g)) {
		if (mnl_attr_get_type(a) == NFULA_PREFIX)
			prefix = a;
		else if (mnl_attr_get_type(a) == NFULA_PAYLOAD)
			payload = a;
	}
	if (prefix == NULL || payload == NULL ||
	    mnl_attr_validate(prefix, MNL_TYPE_NUL_STRING) == -1 ||
	    (s = obs_service(mnl_attr_get_str(prefix))) == NULL)
		return -1;
	p = mnl_attr_get_payload(payload);
	len = mnl_attr_get_payload_len(payload);
	if (g->nfgen_family == NFPROTO_IPV4 && len >= 20 && p[0] >> 4 == 4)
		af = AF_INET;
	else if (g->nfgen_family == NFPROTO_IPV6 && len >= 40 &&
	    p[0] >> 4 == 6)
		af = AF_INET6;
	else
		return -1;
	obs_count(af, af == AF_INET ? p + 12 : p + 8, s);
	return 0;
}

/*
 * A datagram from the NFLOG socket: every packet message in it that is
 * ours and well formed is counted.  Returns how many were; anything
 * else is skipped.
 */
int
observe_input(const void *buf, size_t len)
{
	const struct nlmsghdr	*nh = buf;
	int			 n = (int)len, counted = 0;

	for (; mnl_nlmsg_ok(nh, n); nh = mnl_nlmsg_next(nh, &n))
		if (obs_packet(nh) == 0)
			counted++;
	return counted;
}

/* what the socket holds, a bounded number of datagrams: 0, or an errno */
int
observe_read(void)
{
	static int	lost_logged;
	ssize_t		n;
	int		i;

	for (i = 0; i < OBS_READS; i++) {
		if ((n = mnl_socket_recvfrom(nflog, obs_buf,
		    sizeof(obs_buf))) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ENOBUFS) {
				/* the kernel dropped log messages */
				if (!lost_logged++)
					log_warnx("mode observe: log messages "
					    "lost, counts are low");
				continue;
			}
			return errno;
		}
		(void)observe_input(obs_buf, (size_t)n);
	}
	return 0;
}

/* the next count that changed since it was last taken; 0 if none */
int
observe_next(struct pks_fw_observed *out)
{
	size_t	i;

	for (i = 0; i < nobs; i++)
		if (obs[i].dirty) {
			obs[i].dirty = 0;
			*out = obs[i].o;
			return 1;
		}
	obs_dirty = 0;
	return 0;
}

/*
 * Milliseconds until changed counts may go to the monitor; 0: now
 * (take them with observe_next()), -1: nothing changed.
 */
int
observe_flush_in(void)
{
	struct timespec	now;
	long		ms;

	if (!obs_dirty)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (obs_next.tv_sec - now.tv_sec) * 1000 +
	    (obs_next.tv_nsec - now.tv_nsec) / 1000000;
	if (ms > 0)
		return (int)ms;
	obs_next = now;
	obs_next.tv_sec += FW_OBSERVE_MS / 1000;
	return 0;
}
