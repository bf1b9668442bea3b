/*
 * ready.c: what the monitor says about its readiness, and only the truth.
 *
 * To systemd (Type=notify): READY=1 once every child has said
 * IMSG_READY, written to $NOTIFY_SOCKET directly (a datagram, as
 * sd_notify(3) describes it; no libsystemd), so that a start that fails
 * fails "systemctl start".  To the admin: an interface that does not
 * exist is named by -n and at start.  To the people who ask for a
 * sequence: while pks-sniffer is not capturing, none is issued, since
 * nobody could knock it; the "notify" users are told once when knocks
 * stop being heard and once when they are heard again.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"

static struct sockaddr_un	notify_sun;
static socklen_t		notify_len;	/* 0: not under systemd */
static int			notified_ready;
static int			deaf_told;	/* notify users told: deaf */

/*
 * Take $NOTIFY_SOCKET for the monitor alone: the children it execs must
 * not see it.  "@name" is an abstract socket.
 */
void
ready_init(void)
{
	const char	*p = getenv("NOTIFY_SOCKET");
	size_t		 len;

	if (p == NULL)
		return;
	len = strlen(p);
	if ((p[0] == '/' || p[0] == '@') && len >= 2 &&
	    len < sizeof(notify_sun.sun_path)) {
		memset(&notify_sun, 0, sizeof(notify_sun));
		notify_sun.sun_family = AF_UNIX;
		memcpy(notify_sun.sun_path, p, len);
		if (p[0] == '@')
			notify_sun.sun_path[0] = '\0';
		notify_len = offsetof(struct sockaddr_un, sun_path) + len;
	} else
		log_warnx("NOTIFY_SOCKET \"%s\" ignored: not a socket path",
		    p);
	unsetenv("NOTIFY_SOCKET");
}

/* One sd_notify(3) datagram, e.g. "READY=1\nSTATUS=...". */
static void
ready_notify(const char *state)
{
	int	fd;

	if (notify_len == 0)
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify socket");
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_sun, notify_len) == -1)
		log_warn("notify %s", state);
	close(fd);
}

/* Every configured interface that does not exist, warned about. */
int
ready_check_ifaces(const struct pks_conf *conf)
{
	int	i, missing = 0;

	for (i = 0; i < conf->nifaces; i++) {
		if (strcmp(conf->ifaces[i], "any") == 0 ||
		    if_nametoindex(conf->ifaces[i]) != 0)
			continue;
		log_warnx("interface \"%s\" does not exist: knocks on it "
		    "cannot be heard until it does", conf->ifaces[i]);
		missing++;
	}
	return missing;
}

/* the people who follow the server's state, through the bot */
static void
tell_notify_users(const char *msg)
{
	struct reply	rp;

	reply_init(&rp);
	reply_add(&rp, "%s", msg);
	telegram_origin.notify(0, &rp);
}

/* A child said IMSG_READY. */
void
ready_child_up(enum pks_proc id)
{
	if (id == PROC_SNIFFER && deaf_told) {
		deaf_told = 0;
		log_info("knocks can be heard again");
		tell_notify_users("Knocks can be heard again: /generate "
		    "issues sequences.");
	}
	if (!child_all_ready())
		return;
	log_info("all children ready");
	if (!notified_ready) {
		notified_ready = 1;
		ready_notify("READY=1\nSTATUS=all children ready");
	}
}

/* A child died or was stopped. */
void
ready_child_down(enum pks_proc id)
{
	if (id != PROC_SNIFFER || env->stopping || env->child[id].planned ||
	    deaf_told)
		return;
	deaf_told = 1;
	log_warnx("knocks cannot be heard until pks-sniffer captures again: "
	    "no sequence is issued meanwhile");
	tell_notify_users("Knocks cannot be heard right now (pks-sniffer is "
	    "not capturing): no sequence is issued until it is back.");
}

void
ready_stopping(void)
{
	ready_notify("STOPPING=1");
}
