/*
 * grants.c: grants and lockdown in force, and the life cycle of the
 * state file that keeps them and the recovery sequences (its format is
 * state.c's).
 *
 * Loaded at start and at SIGHUP, never fatal: a refused file leaves the
 * configuration's rights only, and is moved aside before the next
 * write.  A grant that ends revokes the sequences it allowed.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define EXPIRED_MAX	64	/* grants logged per expiry round */

/*
 * Grants end on the monotonic clock in the monitor, at a date in the
 * file: convert every end to a date (to_wall) or back, with one offset
 * so that the round trip is exact.  An end already past stays past.
 */
static void
grants_clock(struct pks_state *st, int to_wall)
{
	time_t	off = mono_to_wall(0);
	size_t	i;

	for (i = 0; i < st->ngrants; i++) {
		struct grant	*g = &st->grants[i];

		if (g->until == 0)
			continue;
		g->until = to_wall ? g->until + off : g->until - off;
		if (g->until <= 0)
			g->until = 1;
	}
	for (i = 0; i < st->nrecov; i++) {
		struct recov	*r = &st->recov[i];

		r->until = to_wall ? r->until + off : r->until - off;
		if (r->until <= 0)
			r->until = 1;
	}
}

/* the live recovery sequences, for the file (the live set is seq.c's) */
static int
recov_collect(struct pks_state *st)
{
	const struct sequence	*q;
	struct recov		 rv;

	for (q = NULL; (q = seq_each_recovery(q)) != NULL;) {
		memset(&rv, 0, sizeof(rv));
		rv.seq = q->seq;
		rv.user = q->user_id;
		snprintf(rv.service, sizeof(rv.service), "%s", q->svcname);
		rv.until = q->expires;
		rv.by = q->by;
		rv.since = q->since;
		if (state_recov_add(st, &rv) == -1)
			return -1;
	}
	return 0;
}

static void
recov_drop(struct pks_state *st)
{
	free(st->recov);
	st->recov = NULL;
	st->nrecov = 0;
}

/* a failed write: tried again every STATE_RETRY s until one works */
#define STATE_RETRY	5
#define STATE_WARN	60	/* s between two lines about it */

static int
save_failed(const char *what, const char *why)
{
	static time_t	warned;
	time_t		now = mono_now();

	if (env->state_retry == 0 || now - warned >= STATE_WARN) {
		log_warnx("state file %s: %s: %s", env->conf->state_file,
		    what, why);
		log_warnx("state file %s: tried again every %d s until it can "
		    "be written", env->conf->state_file, STATE_RETRY);
		warned = now;
	}
	env->state_retry = now + STATE_RETRY;
	return -1;
}

/*
 * Save the state.  A file refused at load is first moved aside, so a
 * write never destroys what an admin may want to look at.  A failure is
 * tried again (grants_sync) until a write works: until then a restart
 * would bring back what the file still holds (a used recovery sequence).
 */
int
grants_save(void)
{
	char	ebuf[256], aside[4096];
	int	rc;

	if (env->state_refused) {
		if (state_keep_aside(env->conf->state_file, aside,
		    sizeof(aside), ebuf, sizeof(ebuf)) == -1)
			return save_failed("cannot move it aside", ebuf);
		log_warnx("state file %s: the refused file is kept as %s",
		    env->conf->state_file, aside);
		env->state_refused = 0;
	}
	env->state_dirty = 0;
	if (recov_collect(&env->state) == -1) {
		recov_drop(&env->state);
		return save_failed("cannot write it", "out of memory");
	}
	grants_clock(&env->state, 1);
	if (env->conf->mode == PKS_MODE_OBSERVE) {
		env->state.obs = env->observed;
		env->state.nobs = env->nobserved;
		env->state.obs_since = env->observed_since;
	}
	rc = state_save(env->conf->state_file, &env->state, ebuf,
	    sizeof(ebuf));
	env->state.obs = NULL;		/* env's array, never freed */
	env->state.nobs = 0;
	grants_clock(&env->state, 0);
	recov_drop(&env->state);
	if (rc == -1)
		return save_failed("cannot write it", ebuf);
	env->observed_dirty = 0;
	env->observed_saved = mono_now();
	if (env->state_retry != 0)
		log_warnx("state file %s written again: what the failed "
		    "writes missed is recorded now", env->conf->state_file);
	env->state_retry = 0;
	if (rc == 1)
		log_warnx("state file %s: %s", env->conf->state_file, ebuf);
	log_debug("state file %s written (%zu grants, lockdown %d)",
	    env->conf->state_file, env->state.ngrants, env->state.lockdown);
	return 0;
}

/*
 * When counts of mode observe that moved are due to be written (0: none
 * are, or a failed write's retry will take them).
 */
static time_t
observed_due(void)
{
	time_t	every = OBSERVED_SAVE_S;

	if (!env->observed_dirty || env->state_retry != 0)
		return 0;
#ifdef PKS_TESTHOOKS
	every = testhook_observed_save_s(every);
#endif
	return env->observed_saved + every;
}

/*
 * Write the state file if a recovery sequence left the live set since
 * the last write (expired, its owner lost the right, a reload): once,
 * a failure is logged and the next change tries again.  Counts of mode
 * observe that moved are written too, at most once a minute: they move
 * with every new connection, and each write syncs.
 */
void
grants_sync(void)
{
	time_t	t = observed_due();

	if (env->state_dirty || (env->state_retry != 0 &&
	    mono_now() >= env->state_retry) || (t != 0 && mono_now() >= t))
		grants_save();
}

/*
 * The recovery sequences the file kept, made live again at start.  At a
 * reload the running set is kept: a knock may have used one since the
 * file was written, and the monitor is the file's only writer.
 */
static void
recov_restore(struct recov *rv, size_t n)
{
	struct sequence	*s;
	const char	*why;
	time_t		 now = mono_now();
	size_t		 i;
	int		 svc;

	for (i = 0; i < n; i++) {
		svc = conf_service_index(env->conf, rv[i].service);
		if (rv[i].until <= now)
			why = "it expired";
		else if (svc == -1)
			why = "no such service";
		else if ((s = seq_recovery_add(svc, rv[i].user, rv[i].until,
		    rv[i].by, rv[i].since, &rv[i].seq, &why)) != NULL)
			continue;
		log_warnx("recovery sequence %u of %lld for %s dropped: %s",
		    rv[i].seq.id, (long long)rv[i].user, rv[i].service, why);
		env->state_dirty = 1;
	}
	if (n > 0)
		log_info("state file %s: %zu recovery sequence(s) read",
		    env->conf->state_file, n);
}

static void
check_services(void)
{
	size_t	i;

	for (i = 0; i < env->state.ngrants; i++) {
		const struct grant	*g = &env->state.grants[i];

		if (conf_service_index(env->conf, g->service) == -1)
			log_warnx("grant of %s to %lld: the configuration "
			    "defines no such service, it is not in force",
			    g->service, (long long)g->user);
	}
}

/*
 * Read the state file, at start or at SIGHUP.  Never fatal (see
 * pks-monitor(8)): refused at start, the configuration's rights only;
 * refused at a reload, the running state stays.
 */
static void
grants_load(int start)
{
	struct pks_state	st;
	struct recov		*rv;
	size_t			 nrv;
	char			ebuf[256];
	int			rc;

	rc = state_load(env->conf->state_file, &st, ebuf, sizeof(ebuf));
	if (rc == -1 && !start) {
		log_warnx("state file %s refused: %s; the running state is "
		    "kept", env->conf->state_file, ebuf);
		return;
	}
	if (rc == -1) {
		log_warnx("state file %s refused: %s; running with the "
		    "configuration's rights only (no grant, no lockdown); "
		    "the file is moved aside at the next admin change",
		    env->conf->state_file, ebuf);
		env->state_refused = 1;
		memset(&env->state, 0, sizeof(env->state));
		return;
	}
	if (ebuf[0] != '\0')
		log_warnx("state file %s %s; if someone else could read it, "
		    "revoke them and issue new ones (pksctl recovery revoke "
		    "all)", env->conf->state_file, ebuf);
	if (st.nobs_bad > 0)
		log_warnx("state file %s: %zu count line(s) of mode observe "
		    "skipped, first %s", env->conf->state_file, st.nobs_bad,
		    st.obs_err);
	if (start && env->conf->mode == PKS_MODE_OBSERVE) {
		if (st.nobs > 0)
			memcpy(env->observed, st.obs, st.nobs *
			    sizeof(st.obs[0]));
		env->nobserved = st.nobs;
		env->observed_since = st.obs_since;
		if (st.nobs > 0)
			log_info("state file %s: %zu count(s) of mode "
			    "observe read", env->conf->state_file, st.nobs);
	}
	free(st.obs);
	st.obs = NULL;
	st.nobs = 0;
	grants_clock(&st, 0);
	rv = st.recov;
	nrv = st.nrecov;
	st.recov = NULL;
	st.nrecov = 0;
	state_clear(&env->state);
	env->state = st;
	env->state_refused = 0;
	if (start)
		recov_restore(rv, nrv);
	free(rv);
	if (rc == 1 && start)
		log_info("state file %s: none yet, empty state",
		    env->conf->state_file);
	else
		log_info("state file %s: %zu grant(s), lockdown %s",
		    env->conf->state_file, st.ngrants,
		    st.lockdown ? "ON" : "off");
	check_services();
	if (st.lockdown)
		seq_revoke_user(0, 1);
	/* grants that ended while the monitor was not running */
	grants_expire(mono_now());
}

void
grants_init(void)
{
	grants_load(1);
}

void
grants_reload(void)
{
	grants_load(0);
}

void
grants_expire(time_t now)
{
	struct grant	gone[EXPIRED_MAX];
	size_t		n, i;

	if ((n = state_expire(&env->state, now, gone, EXPIRED_MAX)) == 0)
		return;
	for (i = 0; i < n && i < EXPIRED_MAX; i++)
		log_info("grant of %s to %lld (by %lld) expired",
		    gone[i].service, (long long)gone[i].user,
		    (long long)gone[i].by);
	seq_revoke_unallowed(0);
	grants_save();
}

time_t
grants_next_deadline(void)
{
	time_t	t = state_next_expiry(&env->state), o = observed_due();

	if (env->state_retry != 0 && (t == 0 || env->state_retry < t))
		t = env->state_retry;
	if (o != 0 && (t == 0 || o < t))
		t = o;
	return t;
}

