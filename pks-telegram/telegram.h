/*
 * telegram.h: the parts of pks-telegram, grouped by the file that
 * defines them.
 */
#ifndef PKS_TELEGRAM_H
#define PKS_TELEGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "pks.h"
#include "sandbox.h"

#define TG_BOTNAME_MAX	64	/* Telegram usernames are at most 32 */
#define TG_CBQ_ID_MAX	64	/* callback query ids are short strings */
#define TG_UPDATES_MAX	32	/* getUpdates limit: updates per batch */
#define TG_ADDR_MAX	64	/* bound address, incl. NUL */
#define TG_CB_PREFIX	"g:"	/* callback_data of a service button */
#define TG_CB_HOST	"@"	/* of a host's button, "@HOST[/SERVICE]"
				   (fleet mode, on the front) */
#define TG_CB_DATA_MAX	64	/* callback_data bytes, Telegram's limit */
#define TG_KB_MAX	PKS_PICKER_MAX	/* buttons of a keyboard */

/* what one update asks for; at most one command per update */
struct tg_update {
	int64_t			update_id;
	int			has_cmd;	/* req below is filled */
	struct pks_tg_req	req;		/* reqid left 0 */
	char			cbq_id[TG_CBQ_ID_MAX]; /* "" if none */
	int			expired;	/* a press on an expired
						   service picker */
	int64_t			expired_chat;	/* its chat, if it can be
						   edited (msg_id) */
	int64_t			msg_id;		/* the command's message, or
						   the expired picker */
	int64_t			migrate_from;	/* a group that became */
	int64_t			migrate_to;	/* a supergroup; else 0 */
#ifdef PKS_TESTHOOKS
	struct pks_tg_sent	forge;		/* /forge_sent STATUS ID */
	int			forged;
#endif
};

/* a sendMessage call */
struct tg_msg {
	int64_t		 chat;
	uint32_t	 thread;	/* forum topic, group chats only; 0 */
	int64_t		 reply_to;	/* message answered, in chat; 0 */
	const char	*text;
	size_t		 len;
	int		 html;		/* parse_mode HTML */
	const char	*kb;		/* service names for buttons, or */
	size_t		 kblen;
	const char	*start_bot;	/* a button to start a private chat
					   with this bot (deep link) */
};

/* the command menus, by where they are shown (setMyCommands scope) */
enum tg_menu {
	TG_MENU_PRIVATE,	/* every private chat */
	TG_MENU_GROUP,		/* every group */
	TG_MENU_ADMIN,		/* one admin's private chat */
	TG_MENU_GROUP_ADMIN	/* one admin in one group */
};

/* the envelope of every Bot API reply */
struct tg_reply {
	int		ok;
	int		error_code;	/* 0 if absent */
	int		retry_after;	/* 0 if absent */
	int64_t		migrate_to;	/* migrate_to_chat_id, 0 if absent */
	char		desc[256];	/* description, "" if absent */
};

/* update.c */
int	tg_parse_updates(const char *, size_t, const char *, time_t,
	    struct tg_update *, size_t, size_t *);
int	tg_parse_reply(const char *, size_t, struct tg_reply *);
int	tg_parse_getme(const char *, size_t, char *, size_t);
int64_t	tg_parse_sent(const char *, size_t);
int	tg_valid_addr(const char *);
int	tg_valid_token(const char *);
int	tg_utf16_to_bytes(const char *, size_t, size_t, size_t *);

/* api.c */
struct tg_api;
struct tg_call;

/* outcome of a call: curl code (0 ok), HTTP status, reply body */
typedef void	(*tg_call_cb)(struct tg_call *, int, long, const char *,
		    size_t, void *);

struct tg_api	*tg_api_new(const char *, const char *, const void *,
		    size_t, const char *, int);
struct tg_call	*tg_call_new(struct tg_api *, const char *);
int		 tg_call_busy(const struct tg_call *);
const char	*tg_call_method(const struct tg_call *);
int		 tg_call_start(struct tg_call *, const char *, const char *,
		    long, tg_call_cb, void *);
int		 tg_api_wait(struct tg_api *, int, short, int, short *);
void		 tg_api_perform(struct tg_api *);
const char	*tg_api_strerror(struct tg_api *, struct tg_call *, int);
void		 tg_scrub(char *, const char *);
int		 tg_kb_entry(const char *, size_t, char *, size_t, char *,
		    size_t);
char		*tg_build_send(int64_t, uint32_t, const char *, size_t,
		    int, const char *, size_t);
int		 tg_url_ok(const char *);
char		*tg_build_msg(const struct tg_msg *);
char		*tg_build_getupdates(int64_t, int);
char		*tg_build_commands(enum tg_menu, int64_t, int64_t, int);
char		*tg_build_answer(const char *, const char *, const char *);
char		*tg_build_edit(int64_t, int64_t, const char *, size_t);
int		 tg_resolve(const char *, char *, size_t, int *);

/* sandbox.c */
extern const struct sandbox_rule	tg_sandbox_rules[];
extern const size_t			tg_sandbox_nrules;

#endif /* PKS_TELEGRAM_H */
