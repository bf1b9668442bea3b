/*
 * policy.c: who may do what.  Deny by default: the configuration's
 * admins and allow statements, then the grants an admin made (state.c)
 * while they last; nothing is issued or accepted in a lockdown.
 */
#include <sys/types.h>

#include <time.h>

#include "monitor.h"

/* Is user an admin?  Only the configuration says so. */
int
policy_is_admin(int64_t user)
{
	size_t	i;

	for (i = 0; i < env->conf->nadmins; i++)
		if (env->conf->admins[i] == user && user != 0)
			return 1;
	return 0;
}

/* May user (asking in chat) open service svc? */
int
policy_allowed(int64_t user, int64_t chat, int svc)
{
	struct pks_conf	*conf = env->conf;
	size_t		 i;

	if (svc < 0 || svc >= conf->nservices)
		return 0;
	if (user != 0 && state_allows(&env->state, user,
	    conf->services[svc].name, mono_now()))
		return 1;
	for (i = 0; i < conf->ngrants; i++) {
		const struct conf_grant	*g = &conf->grants[i];

		if (!(g->services & (1ULL << svc)))
			continue;
		if (g->kind == GRANT_USER && g->id == user)
			return 1;
		if (g->kind == GRANT_CHAT && g->id == chat)
			return 1;
	}
	return 0;
}

int
policy_locked(void)
{
	return env->state.lockdown;
}
