/*
 * conf.h: the parsed configuration, owned by the monitor.  Children get
 * only their part of it, over their socketpair.
 */
#ifndef PKS_CONF_H
#define PKS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "pks.h"

#define CONF_DEFAULT_PATH	"/etc/pks/pks.conf"

struct conf_service {
	char		name[PKS_NAME_MAX];
	uint16_t	port;		/* protected port, host order */
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		knock_proto;	/* protocol of the knocks */
	uint32_t	open_for;	/* window length, seconds */
};

enum conf_grant_kind {
	GRANT_USER = 1,			/* a Telegram user id */
	GRANT_CHAT			/* members of a Telegram chat */
};

struct conf_grant {
	int		kind;		/* enum conf_grant_kind */
	int64_t		id;
	uint64_t	services;	/* bit i: services[i] */
};

#define CONF_EXCLUDE_MAX	64	/* knock-exclude lines */
#define CONF_ALWAYS_MAX		64	/* allow-always lines */

/* allow-always PREFIX to { services } */
struct conf_always {
	uint8_t		af;
	uint8_t		plen;
	uint8_t		addr[16];	/* host bits zero */
	uint64_t	services;	/* bit i: services[i] */
};

#define CONF_FILES		6	/* files named in telegram { } and
					   fleet { }, checked by conf_load */
#define CONF_SECRET_MIN		32	/* bytes of a fleet secret-file */
#define CONF_SECRET_MAX		256

/*
 * A key shared by the front and a host: the file a statement names
 * (its line, for the errors) and its bytes, read by conf_load.  Each
 * side has two: [CONF_KEY_NOW] (secret-file) signs and checks,
 * [CONF_KEY_PREVIOUS] (previous-secret-file, path "" if none) is
 * still accepted during a rotation.
 */
enum { CONF_KEY_NOW, CONF_KEY_PREVIOUS, CONF_KEYS };

struct conf_key {
	char		path[256];
	int		line;
	uint8_t		key[CONF_SECRET_MAX];
	size_t		len;
};

/* a front's "host NAME secret-file PATH [previous-secret-file PATH]" */
struct conf_fleet_host {
	char		name[PKS_NAME_MAX];
	int		line;
	struct conf_key	key[CONF_KEYS];
};

struct pks_conf {
	char			user[64];
	char			chroot[256];
	char			ifaces[PKS_IFACES_MAX][16];
	int			nifaces;
	uint16_t		knock_lo;
	uint16_t		knock_hi;
	uint32_t		seq_len;
	uint32_t		seq_lifetime;
	uint32_t		knock_timeout;
	uint32_t		max_sources;
	uint32_t		max_sequences;	/* live, in all */
	uint32_t		max_seq_chat;	/* live, asked in one group */
	uint32_t		recovery_valid;	/* seconds a recovery sequence
						   lives */
	uint16_t		exclude[CONF_EXCLUDE_MAX][2];	/* ports
					   never drawn: LO, HI */
	int			nexclude;
	char			control_socket[108];
	char			state_file[256];
	uint8_t			firewall;	/* enum pks_fw_kind */
	uint8_t			mode;		/* enum pks_fw_modes */
	uint32_t		nflog_group;	/* mode observe's, 0..65535 */
	struct conf_always	always[CONF_ALWAYS_MAX];
	int			nalways;

	int			has_telegram;	/* a telegram block was given */
	char			token_file[256];
	char			api_url[256];
	char			ca_file[256];
	char			knock_host[256]; /* shown in pks-knock lines */

	int			has_fleet;	/* a fleet block was given */
	char			fleet_broker[256]; /* mqtts://HOST[:PORT] */
	char			fleet_ca[256];
	char			fleet_cert[256];
	char			fleet_key[256];	/* secret: root, 0600 */
	char			fleet_password[256]; /* secret: root, 0600 */
	char			fleet_name[PKS_NAME_MAX]; /* this host's */
	uint8_t			fleet_role;	/* enum pks_fleet_role */
	uint32_t		fleet_timeout;	/* seconds a front waits for
						   a host's answer */
	struct conf_key		fleet_secret[CONF_KEYS]; /* a host's */
	struct conf_fleet_host	*fleet_hosts;	/* a front's */
	size_t			nfleet_hosts;
	int			file_line[CONF_FILES]; /* where each file
						   of parse.c's conffiles
						   was named (or its block,
						   for a default) */

	struct conf_service	services[PKS_SERVICES_MAX];
	int			nservices;
	struct conf_grant	*grants;
	size_t			ngrants;
	int64_t			*admins;	/* "admin user ID" */
	size_t			nadmins;
	int64_t			*notify;	/* "notify user ID" */
	size_t			nnotify;
};

/*
 * A service name as pks.conf allows it: 1 to PKS_NAME_MAX - 1 letters,
 * digits, '-' and '_'.  The parser, the monitor's state file and the
 * Telegram worker all check names with this.
 */
static inline int
conf_valid_name(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= PKS_NAME_MAX - 1)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	}
	return i > 0;
}

/* parse.c */
struct pks_conf	*conf_load(const char *);
struct pks_conf	*conf_parse_buffer(const char *, const char *, size_t);
void		 conf_free(struct pks_conf *);
int		 conf_service_index(const struct pks_conf *, const char *);
int		 conf_check_secret(const char *, const char *);
int		 conf_check_readable(const char *, const char *);
int		 conf_read_secret(const char *, const char *, uint8_t *,
		    size_t *);

#endif /* PKS_CONF_H */
