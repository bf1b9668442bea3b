/*
 * window.c: the windows completed knocks open, and their state.
 *
 * A window is OPENING until pks-fw confirms, OPEN until it expires,
 * then CLOSING until pks-fw confirms the close (a refused close is asked
 * again after CLOSE_RETRY).  A knock that completes while the close is
 * in flight opens the window again once the close is done.  The origin
 * of the sequence that opened a window tells its owner when it opens
 * and closes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define CLOSE_RETRY	2	/* seconds before a refused close is retried */

static struct window *
win_find(int af, const uint8_t *addr, int proto, uint16_t port)
{
	struct window	*w;
	size_t		 alen = af == AF_INET ? 4 : 16;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.af == af && w->w.proto == proto &&
		    w->w.port == port && memcmp(w->w.addr, addr, alen) == 0)
			return w;
	return NULL;
}

static struct window *
win_by_id(uint32_t id)
{
	struct window	*w;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.id == id)
			return w;
	return NULL;
}

static void
win_free(struct window *w)
{
	struct window	**pp;

	for (pp = &env->windows; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			return;
		}
}

/* open w in pks-fw, or tell it the window's new end */
static void
win_send_open(struct window *w)
{
	time_t	now = mono_now();

	w->w.timeout = w->expires > now ? w->expires - now : 1;
	child_send(PROC_FW, IMSG_FW_OPEN, -1, &w->w, sizeof(w->w));
}

static void
win_event(struct window *w, enum win_event ev)
{
	char		 a[INET6_ADDRSTRLEN], t[16];
	struct tm	 tm;
	time_t		 until;

	addr_str(w->w.af, w->w.addr, a, sizeof(a));
	if (ev == WIN_EV_OPENED) {
		until = mono_to_wall(w->expires);
		gmtime_r(&until, &tm);
		strftime(t, sizeof(t), "%H:%M:%S UTC", &tm);
		log_info("window opened: %s for %s (%s) until %s", w->svcname,
		    a, w->user_name, t);
	} else
		log_info("window closed: %s for %s (%s)", w->svcname, a,
		    w->user_name);
	if (w->origin != NULL && w->origin->window != NULL)
		w->origin->window(w, ev);
}

/*
 * Open (or extend) the window sequence s opens for an address.  -1 if
 * it cannot be had (logged).
 */
int
win_open(const struct sequence *s, int af, const uint8_t *addr)
{
	struct conf_service	*svc = &env->conf->services[s->service];
	struct window		*w;
	char			 a[INET6_ADDRSTRLEN];

	if ((w = win_find(af, addr, svc->proto, svc->port)) == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			log_warn("window");
			return -1;
		}
		do {
			w->w.id = ++env->next_win_id;
		} while (w->w.id == 0);
		w->w.af = af;
		w->w.proto = svc->proto;
		w->w.port = svc->port;
		memcpy(w->w.addr, addr, af == AF_INET ? 4 : 16);
		w->state = WIN_OPENING;
		w->next = env->windows;
		env->windows = w;
	} else if (w->state == WIN_CLOSING)
		w->reopen = 1;	/* the close is in flight */
	/* the same address knocking again extends its window */
	w->origin = s->origin;
	w->service = s->service;
	memcpy(w->svcname, s->svcname, sizeof(w->svcname));
	w->user_id = s->user_id;
	memcpy(w->user_name, s->user_name, sizeof(w->user_name));
	w->expires = mono_now() + svc->open_for;
	if (!w->reopen)		/* else once the close is done */
		win_send_open(w);
	if (w->state == WIN_OPEN)
		log_info("window for %s on %s extended",
		    addr_str(af, addr, a, sizeof(a)), svc->name);
	return 0;
}

/* a window whose close was in flight when it was knocked again */
static void
win_reopen(struct window *w)
{
	w->reopen = 0;
	w->retry_at = 0;
	w->notified = 0;
	w->state = WIN_OPENING;
	win_send_open(w);
}

static void
win_close(struct window *w)
{
	w->reopen = 0;
	if (w->state == WIN_CLOSING)
		return;		/* close already asked */
	w->state = WIN_CLOSING;
	w->expires = 0;
	child_send(PROC_FW, IMSG_FW_CLOSE, -1, &w->w, sizeof(w->w));
}

/* pks-fw's answer; dispatch.c checked its type */
void
win_fw_result(const struct pks_fw_result *r)
{
	struct window	*w;

	if (r->type == IMSG_FW_CLOSE_ALL) {
		if (r->error)
			log_warnx("pks-fw could not close all windows: %s",
			    strerror(r->error));
		else {
			while (env->windows != NULL)
				win_free(env->windows);
		}
		return;
	}
	if ((w = win_by_id(r->id)) == NULL)
		return;		/* closed meanwhile */
	if (r->type == IMSG_FW_OPEN) {
		if (r->error) {
			log_warnx("pks-fw could not open window %u: %s",
			    r->id, strerror(r->error));
			if (w->state == WIN_OPEN)	/* an extension: fail
							   closed */
				win_close(w);
			else
				win_free(w);
			return;
		}
		if (w->state == WIN_OPENING)
			w->state = WIN_OPEN;
		if (!w->notified) {
			w->notified = 1;
			win_event(w, WIN_EV_OPENED);
		}
	} else {
		if (r->error && r->error != ENOENT) {
			/* pks-fw kept the rule: the window stays CLOSING
			 * and the close is asked again shortly */
			log_warnx("pks-fw could not close window %u: %s; "
			    "retrying", r->id, strerror(r->error));
			w->retry_at = mono_now() + CLOSE_RETRY;
			return;
		}
		win_event(w, WIN_EV_CLOSED);
		if (w->reopen && w->expires > mono_now())
			win_reopen(w);
		else
			win_free(w);
	}
}

void
win_expire(time_t now)
{
	struct window	*w;

	for (w = env->windows; w != NULL; w = w->next) {
		if (w->state != WIN_CLOSING && w->expires <= now)
			win_close(w);
		else if (w->state == WIN_CLOSING && w->retry_at != 0 &&
		    w->retry_at <= now) {
			w->retry_at = 0;
			child_send(PROC_FW, IMSG_FW_CLOSE, -1, &w->w,
			    sizeof(w->w));
		}
	}
}

/* the earliest time a window needs something, 0 if none does */
time_t
win_next_deadline(void)
{
	struct window	*w;
	time_t		 t = 0;

	for (w = env->windows; w != NULL; w = w->next) {
		if (w->state == WIN_OPEN && (t == 0 || w->expires < t))
			t = w->expires;
		if (w->retry_at != 0 && (t == 0 || w->retry_at < t))
			t = w->retry_at;
	}
	return t;
}

/*
 * A restarted pks-fw starts from an empty chain and rebuilds it from
 * this: windows still in force are opened again, those whose close was
 * pending are gone with the old chain.
 */
void
win_push_all(void)
{
	struct window	*w, *nw;

	for (w = env->windows; w != NULL; w = nw) {
		nw = w->next;
		if (w->state != WIN_CLOSING || (w->reopen &&
		    w->expires > mono_now())) {
			w->reopen = 0;
			w->retry_at = 0;
			w->state = WIN_OPENING;
			win_send_open(w);
		} else {
			win_event(w, WIN_EV_CLOSED);
			win_free(w);
		}
	}
}

void
win_close_all(void)
{
	if (env->windows != NULL)
		child_send(PROC_FW, IMSG_FW_CLOSE_ALL, -1, NULL, 0);
}

/* close every window of an address; returns how many */
int
win_close_addr(int af, const uint8_t *addr)
{
	struct window	*w;
	size_t		 alen = af == AF_INET ? 4 : 16;
	int		 n = 0;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.af == af && memcmp(w->w.addr, addr, alen) == 0 &&
		    (w->state != WIN_CLOSING || w->reopen)) {
			win_close(w);
			n++;
		}
	return n;
}

/* every window closes; their owners are told; returns how many */
int
win_close_every(void)
{
	struct window	*w;
	int		 n = 0;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->state != WIN_CLOSING || w->reopen)
			n += win_close_addr(w->w.af, w->w.addr);
	return n;
}

/* after a reload: a window whose service is gone or changed closes */
void
win_reconf(void)
{
	struct window	*w;
	int		 i;

	for (w = env->windows; w != NULL; w = w->next) {
		i = conf_service_index(env->conf, w->svcname);
		if (i == -1 || env->conf->services[i].port != w->w.port ||
		    env->conf->services[i].proto != w->w.proto)
			win_close(w);
		else
			w->service = i;
	}
}

/*
 * The windows one lister shows: after prev (NULL: the first), those of
 * user (0: everyone's), CLOSING ones only with closing.
 */
const struct window *
win_each(const struct window *prev, int64_t user, int closing)
{
	const struct window	*w;

	for (w = prev ? prev->next : env->windows; w != NULL; w = w->next)
		if ((user == 0 || w->user_id == user) &&
		    (closing || w->state != WIN_CLOSING))
			return w;
	return NULL;
}

/* seconds left, 0 at the least; -1 for a window that is closing */
long long
win_left(const struct window *w, time_t now)
{
	if (w->state == WIN_CLOSING)
		return -1;
	return w->expires > now ? (long long)(w->expires - now) : 0;
}
