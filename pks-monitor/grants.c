/*
 * grants.c: grants and lockdown in force, and the life cycle of the
 * state file that keeps them (its format is state.c's).
 *
 * Loaded at start and at SIGHUP, never fatal: a refused file leaves the
 * configuration's rights only, and is moved aside before the next
 * write.  A grant that ends revokes the sequences it allowed.
 */
#include <sys/types.h>

#include <stdio.h>
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
}

/*
 * Save the state.  A file refused at load is first moved aside, so a
 * write never destroys what an admin may want to look at.
 */
int
grants_save(void)
{
	char	ebuf[256], aside[4096];
	int	rc;

	if (env->state_refused) {
		if (state_keep_aside(env->conf->state_file, aside,
		    sizeof(aside), ebuf, sizeof(ebuf)) == -1) {
			log_warnx("state file %s: cannot move it aside: %s",
			    env->conf->state_file, ebuf);
			return -1;
		}
		log_warnx("state file %s: the refused file is kept as %s",
		    env->conf->state_file, aside);
		env->state_refused = 0;
	}
	grants_clock(&env->state, 1);
	rc = state_save(env->conf->state_file, &env->state, ebuf,
	    sizeof(ebuf));
	grants_clock(&env->state, 0);
	if (rc == -1) {
		log_warnx("state file %s: cannot write it: %s",
		    env->conf->state_file, ebuf);
		return -1;
	}
	if (rc == 1)
		log_warnx("state file %s: %s", env->conf->state_file, ebuf);
	log_debug("state file %s written (%zu grants, lockdown %d)",
	    env->conf->state_file, env->state.ngrants, env->state.lockdown);
	return 0;
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
	grants_clock(&st, 0);
	state_clear(&env->state);
	env->state = st;
	env->state_refused = 0;
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
	return state_next_expiry(&env->state);
}

