/*
 * proc.h: the start of every child.  The monitor execs a child with its
 * socketpair end on fd PROC_FD; the child reads its configuration from
 * it (children never read the configuration file), does what needs
 * privilege, drops privileges, enters its sandbox and says IMSG_READY.
 */
#ifndef PKS_PROC_H
#define PKS_PROC_H

#include "imsg.h"
#include "pks.h"
#include "sandbox.h"

#define PROC_FD		3
/* daemon mode: the child's own /dev/log socket (a fixed number, so an
 * allow-list can name it) */
#define PROC_LOG_FD	4

/* called for each configuration message other than CONF_PROC/CONF_END;
 * returns -1 if the message is malformed */
typedef int	(*proc_conf_fn)(struct imsg *);

/*
 * proc_dispatch(fn): call when poll() says PROC_FD is readable: reads
 * and hands each message to fn; fn returning -1 means malformed, which
 * is fatal (the monitor is the only peer).  EOF from the monitor: exit.
 * proc_flush(): call when PROC_FD is writable or after composing.
 */
extern struct imsgbuf		*proc_ibuf;	/* to the monitor */
extern struct pks_conf_proc	 proc_conf;

/* proc.c */
void	 proc_start(const char *, int, char **);
void	 proc_read_conf(proc_conf_fn);
void	 proc_confine(const int *, size_t, const struct sandbox_rule *,
	    size_t);
void	 proc_dispatch(proc_conf_fn);
void	 proc_compose(uint32_t, int, const void *, size_t);
void	 proc_flush(void);
const char *proc_name(enum pks_proc);
char	*proc_read_fd(int, size_t, size_t *);
#ifdef PKS_TESTHOOKS
int	 proc_test_env(const char *, int, int);
#endif

#endif /* PKS_PROC_H */
