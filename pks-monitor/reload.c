/*
 * reload.c: a new configuration (SIGHUP, pksctl reload), and the state
 * a newly started child must rebuild.
 */
#include <sys/types.h>

#include <signal.h>

#include "log.h"
#include "monitor.h"
#include "privsep.h"

/* children just started (CHILD_BIT()s) get the state they rebuild */
void
monitor_started(unsigned int started)
{
	if (started & CHILD_BIT(PROC_SNIFFER))
		seq_push_all();
	if (started & CHILD_BIT(PROC_FW))
		win_push_all();
}

int
monitor_reload(void)
{
	struct pks_conf	*nconf;
	unsigned int	 uid, gid;
	int		 i;

	log_info("reloading configuration %s", env->conf_path);
	if ((nconf = conf_load(env->conf_path)) == NULL) {
		log_warnx("configuration %s has errors: keeping the "
		    "running one", env->conf_path);
		return -1;
	}
	if (privsep_lookup_user(nconf->user, &uid, &gid) == -1) {
		log_warn("user \"%s\" of the new configuration: keeping the "
		    "running one", nconf->user);
		conf_free(nconf);
		return -1;
	}
	env->uid = uid;
	env->gid = gid;
	conf_free(env->conf);
	env->conf = nconf;
	if (nconf->mode != PKS_MODE_OBSERVE && env->nobserved > 0) {
		env->nobserved = 0;	/* a later observe counts anew */
		env->observed_dirty = 1;	/* and the file forgets them */
	}
	grants_reload();
	fleet_auth_reconf();
	seq_reconf();
	win_reconf();
	/* children get their part anew: restart them, state follows */
	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->pid != -1) {
			/* on its way out: not ready, until the new one
			 * says so (ready.c: "all children ready" and
			 * whether knocks are heard tell the truth) */
			c->planned = 1;
			c->ready = 0;
			(void)child_signal(i, SIGTERM);
		} else if (c->restart_at == 0 && child_start(i) == 0)
			monitor_started(CHILD_BIT(i));
	}
	log_info("configuration reloaded");
	return 0;
}
