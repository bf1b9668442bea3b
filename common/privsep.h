#ifndef PKS_PRIVSEP_H
#define PKS_PRIVSEP_H

#include <stddef.h>

struct pks_conf_proc;

/* privsep.c */
void	privsep_drop(const struct pks_conf_proc *, const int *, size_t);
int	privsep_lookup_user(const char *, unsigned int *, unsigned int *);
void	privsep_check_chroot(const char *);

#endif /* PKS_PRIVSEP_H */
