/*
 * monitor.h: the monitor's state and the prototypes of its files.
 */
#ifndef PKS_MONITOR_H
#define PKS_MONITOR_H

#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "imsg.h"
#include "pks.h"

struct child {
	enum pks_proc	 id;
	pid_t		 pid;		/* -1: not running */
	int		 fd;
	struct imsgbuf	 ibuf;
	int		 ready;
	int		 planned;	/* restart asked by us: no back-off */
	time_t		 started;
	time_t		 restart_at;	/* 0: none scheduled */
	unsigned int	 backoff;	/* seconds */
	unsigned int	 restarts;
};

struct sequence {
	struct sequence	*next;
	struct pks_seq	 seq;
	int		 service;	/* index in conf->services */
	char		 svcname[PKS_NAME_MAX];
	int64_t		 user_id;
	int64_t		 chat_id;	/* where it was asked for */
	char		 user_name[64];
	time_t		 expires;
};

struct window {
	struct window	*next;
	struct pks_window w;
	int		 service;
	char		 svcname[PKS_NAME_MAX];
	int64_t		 user_id;
	char		 user_name[64];
	time_t		 expires;
	int		 open;		/* pks-fw confirmed */
	int		 notified;	/* owner told it opened */
	time_t		 retry_at;	/* a refused close is asked again */
};

/* a right given from Telegram by an admin, kept in the state file */
struct grant {
	int64_t		 user;
	char		 service[PKS_NAME_MAX];
	time_t		 until;		/* 0: until ungranted */
	int64_t		 by;		/* the admin who granted it */
	time_t		 since;
	char		 name[64];	/* display name, may be "" */
};

struct pks_state {
	int		 lockdown;
	int64_t		 lock_by;
	time_t		 lock_since;
	struct grant	*grants;
	size_t		 ngrants;
};

#define STATE_GRANTS_MAX	1024
#define STATE_FILE_MAX		(1024 * 1024)
#define STATE_DURATION_MAX	(365 * 86400)	/* longest grant, seconds */

struct monitor {
	struct pks_conf	*conf;
	const char	*conf_path;
	int		 foreground;	/* -d: do not daemonize */
	int		 log_stderr;	/* log lines go to stderr */
	int		 verbose;
	unsigned int	 uid;		/* of conf->user, looked up at */
	unsigned int	 gid;		/* start and at each reload */
	char		 libexec[4096];
	struct child	 child[PROC_MAX];
	struct sequence	*seqs;
	struct window	*windows;
	uint32_t	 next_seq_id;
	uint32_t	 next_win_id;
	time_t		 started;
	struct pks_fw_conf fw_backend;	/* what pks-fw reported */
	int		 stopping;
	struct pending	*pending;	/* group /generate awaiting delivery */
	struct pks_state state;		/* grants and lockdown (state.c) */
	int		 state_refused;	/* the file was refused at load: move
					   it aside before writing over it */
};

struct pending {
	struct pending	*next;
	uint32_t	 reqid;
	int64_t		 group_chat;
	uint32_t	 thread;	/* the group's forum topic, 0 */
	uint32_t	 seq_id;	/* revoked if undelivered; 0: none */
	char		 what[64];	/* "Sent you WHAT in private" */
};

extern struct monitor	*env;

/* child.c */
void	 child_init_all(void);
void	 child_start(enum pks_proc);
void	 child_stop_all(int);
void	 child_reap(void);
void	 child_restart_due(time_t);
int	 child_poll_timeout(time_t);
void	 child_kill(enum pks_proc, const char *);
void	 child_send(enum pks_proc, uint32_t, int, const void *, size_t);
void	 child_sendv(enum pks_proc, uint32_t, const struct iovec *, int);
void	 child_flush_all(void);
void	 child_dispatch(enum pks_proc);
void	 child_process(enum pks_proc);
int	 child_all_ready(void);

#ifdef PKS_TESTHOOKS
/* testhook.c */
void	 testhook_seqs(void);
#endif

/* seq.c */
struct sequence *seq_generate(int, int64_t, int64_t, const char *, int,
	    const uint8_t *);
void	 seq_remove(struct sequence *);
int	 seq_revoke_user(int64_t, int);
struct sequence *seq_find(uint32_t);
void	 seq_push_all(void);
void	 seq_expire(time_t);
time_t	 seq_next_expiry(void);
void	 seq_knock_done(const struct pks_knock *);
void	 win_fw_result(const struct pks_fw_result *);
void	 win_expire(time_t);
void	 win_push_all(void);
void	 win_close_all(void);
int	 win_close_addr(int, const uint8_t *);
void	 seq_reconf(void);
const char *addr_str(int, const uint8_t *, char *, size_t);

/* control.c */
struct pollfd;
int	 control_init(const char *);
void	 control_cleanup(void);
int	 control_pollfds(struct pollfd *);
void	 control_dispatch(struct pollfd *, int);
#define CONTROL_NFDS	9	/* listener + connections */

/* pks-monitor.c */
int	 monitor_reload(void);

/* bot.c */
void	 bot_request(const struct pks_tg_req *);
void	 bot_sent(const struct pks_tg_sent *);
void	 bot_migrated(const struct pks_tg_migrated *);
void	 bot_notify(int64_t, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 bot_allowed(int64_t, int64_t, int);
int	 bot_is_admin(int64_t);
struct text {
	char		buf[PKS_TEXT_MAX];
	size_t		len;
	int		full;		/* a piece did not fit (text_add) */
	unsigned	more;		/* lines that did not fit */
	int		open_line;	/* the last piece left out ends a line
					   without its newline */
};
void	 text_add(struct text *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 text_esc(struct text *, const char *);
void	 bot_send(uint32_t, int64_t, uint32_t, const struct text *, int64_t,
	    const struct text *);
void	 bot_reply(const struct pks_tg_req *, const struct text *);

/* admin.c */
void	 admin_init(void);
void	 admin_reload(void);
void	 admin_request(const struct pks_tg_req *);
void	 admin_expire(time_t);
time_t	 admin_next_expiry(void);
int	 admin_locked(void);
void	 admin_window_opened(const struct window *);
void	 admin_help(const struct pks_tg_req *, struct text *);

/* ready.c */
void	 ready_init(void);
int	 ready_check_ifaces(const struct pks_conf *);
int	 ready_hearing(void);
void	 ready_child_up(enum pks_proc);
void	 ready_child_down(enum pks_proc);
void	 ready_stopping(void);

/* state.c */
void	 state_clear(struct pks_state *);
int	 state_user_id(const char *, int64_t *);
int	 state_duration(const char *, uint32_t *);
struct grant *state_find(struct pks_state *, int64_t, const char *);
int	 state_grant(struct pks_state *, const struct grant *);
int	 state_ungrant(struct pks_state *, int64_t, const char *);
size_t	 state_expire(struct pks_state *, time_t, struct grant *, size_t);
int	 state_allows(const struct pks_state *, int64_t, const char *,
	    time_t);
time_t	 state_next_expiry(const struct pks_state *);
int	 state_parse(struct pks_state *, const char *, size_t, char *,
	    size_t);
char	*state_format(const struct pks_state *, size_t *);
int	 state_load(const char *, struct pks_state *, char *, size_t);
int	 state_save(const char *, const struct pks_state *, char *, size_t);
int	 state_keep_aside(const char *, char *, size_t, char *, size_t);

#endif /* PKS_MONITOR_H */
