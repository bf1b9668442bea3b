/*
 * monitor.h: the monitor's state and the prototypes of its files.
 *
 * The files call downward only, in this order (a file calls the ones
 * below it, never one above; tests/unit/monitor_layers.sh checks it):
 *
 *	pks-monitor.c	main loop, signals, the next deadline
 *	sandbox.c	the monitor's own seccomp allow-list
 *	dispatch.c	one *_dispatch_imsg() per child: checks, then calls
 *	control.c	pksctl's socket: lines in, tables out
 *	ready.c		readiness: systemd, the notify users, interfaces
 *	reload.c	SIGHUP and pksctl reload; state pushed to a new child
 *	fleet.c		the fleet origin: a front routes, a host answers
 *	fleetauth.c	fleet messages' MACs: the sender's monitor makes
 *			them, the receiver's checks them
 *	telegram.c	the Telegram origin: requests in, HTML out
 *	request.c	requests of any origin: user commands, pending work
 *	admin.c		admin commands
 *	recovery.c	recovery (break-glass) sequences: issue, use, revoke
 *	grants.c	grants and lockdown: the state file's life cycle
 *	testhook.c	test builds only: sequences made at start
 *	seq.c		one-time sequences
 *	window.c	windows, with an explicit state
 *	policy.c	who may do what
 *	child.c		children: start, feed, supervise
 *	reply.c		replies: words and markup, rendered per origin
 *	state.c		the state file's format (pure)
 *	clock.c		expiries on CLOCK_MONOTONIC, dates for messages
 *	text.c		text buffers, addresses, user ids
 */
#ifndef PKS_MONITOR_H
#define PKS_MONITOR_H

#include <sys/types.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "imsg.h"
#include "pks.h"
#include "sandbox.h"

struct child {
	enum pks_proc	 id;
	pid_t		 pid;		/* -1: not running */
	uid_t		 uid;		/* the user it drops to */
	int		 fd;
	struct imsgbuf	 ibuf;
	int		 ready;
	int		 planned;	/* restart asked by us: no back-off */
	time_t		 started;
	time_t		 restart_at;	/* 0: none scheduled */
	unsigned int	 backoff;	/* seconds */
	unsigned int	 restarts;
};

struct origin;

struct sequence {
	struct sequence	*next;
	struct pks_seq	 seq;
	const struct origin *origin;	/* who asked for it */
	int		 service;	/* index in conf->services */
	char		 svcname[PKS_NAME_MAX];
	int64_t		 user_id;
	int64_t		 chat_id;	/* where it was asked for */
	char		 user_name[64];
	time_t		 expires;	/* monotonic (clock.c) */
	int64_t		 msg_id;	/* the origin's message holding it, 0 */
	time_t		 used_at;	/* knocked: when (a date), and from */
	char		 used_from[46];	/* where */
	int		 recovery;	/* a recovery sequence (recovery.c):
					   kept in the state file */
	int64_t		 by;		/* recovery: the admin who issued it,
					   0: pksctl */
	time_t		 since;		/* recovery: issued then (a date) */
	uint32_t	 gen;		/* in the sniffer of that generation, */
	uint32_t	 commit;	/* by that commit (seq_armed()) */
};

enum win_state {
	WIN_OPENING,		/* asked of pks-fw, not confirmed yet */
	WIN_OPEN,		/* pks-fw confirmed */
	WIN_CLOSING		/* close asked, not confirmed yet */
};

struct window {
	struct window	*next;
	struct pks_window w;
	enum win_state	 state;
	const struct origin *origin;	/* of the sequence that opened it */
	int		 service;
	char		 svcname[PKS_NAME_MAX];
	int64_t		 user_id;
	char		 user_name[64];
	time_t		 expires;	/* while OPENING or OPEN; monotonic */
	int		 notified;	/* owner told it opened */
	int		 reopen;	/* CLOSING: knocked again meanwhile,
					   open again once the close is done */
	time_t		 retry_at;	/* CLOSING: a refused close is asked
					   again then, 0: not refused */
};

/* a right given from Telegram by an admin, kept in the state file */
struct grant {
	int64_t		 user;
	char		 service[PKS_NAME_MAX];
	time_t		 until;		/* 0: until ungranted; in the file
					   a date, in the monitor monotonic */
	int64_t		 by;		/* the admin who granted it */
	time_t		 since;
	char		 name[64];	/* display name, may be "" */
};

/* a recovery sequence as the state file keeps it */
struct recov {
	struct pks_seq	 seq;		/* id, ports, protocol; never bound */
	int64_t		 user;
	char		 service[PKS_NAME_MAX];
	time_t		 until;		/* a date in the file, monotonic in
					   the monitor, like a grant's */
	int64_t		 by;		/* 0: pksctl */
	time_t		 since;
};

struct pks_state {
	int		 lockdown;
	int64_t		 lock_by;
	time_t		 lock_since;
	struct grant	*grants;
	size_t		 ngrants;
	struct recov	*recov;		/* read at start, written at each
					   save: the live set is seq.c's */
	size_t		 nrecov;
	struct pks_fw_observed *obs;	/* mode observe's counts; read into
					   env->observed, written from it */
	size_t		 nobs;
	time_t		 obs_since;	/* the first count, a date */
	size_t		 nobs_bad;	/* malformed count lines skipped */
	char		 obs_err[160];	/* the first one's reason */
};

#define STATE_GRANTS_MAX	1024
#define STATE_FILE_MAX		(1024 * 1024)
#define STATE_DURATION_MAX	(365 * 86400)	/* longest grant, seconds */
#define STATE_RECOV_MAX		PKS_RECOVERY_MAX
#define OBSERVED_SAVE_S		60	/* counts moved: a write at most so
					   often (seconds) */

#define CTL_MAX_CONN		8	/* pksctl clients at once */
#define CONTROL_NFDS		(1 + CTL_MAX_CONN)	/* listener + them */

struct pending;

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
	int64_t		 started_ms;	/* monotonic: a fleet request made
					   before (mono_ms_to_wall) is refused
					   (a replay) */
	struct pks_fw_conf fw_backend;	/* what pks-fw reported */
	/* mode observe: pks-fw's counts (dispatch.c), given back to the
	   next pks-fw (child.c) until a reload to mode enforce */
	struct pks_fw_observed observed[PKS_OBSERVED_MAX + PKS_SERVICES_MAX];
	size_t		 nobserved;
	time_t		 observed_since;	/* the first, a date */
	int		 observed_dirty;	/* counts moved since the last
						   state file write */
	time_t		 observed_saved;	/* that write, mono_now() */
	struct pks_sniff_stats sniff_now;  /* the running sniffer's */
	struct pks_sniff_stats sniff_past; /* the sum of the earlier ones' */
	uint32_t	 sniff_gen;	/* sniffers started (child.c) */
	uint32_t	 sniff_commits;	/* IMSG_SEQ_COMMITs sent the running
					   one (seq.c), and those it said */
	uint32_t	 sniff_armed;	/* it applied (IMSG_SEQ_ARMED) */
	int		 ebpf_map;	/* the range filter in the kernel, */
	int		 ebpf_prog;	/* made at start (common/ebpf.c); -1 */
	int		 ebpf_wake;
	uint32_t	 ebpf_buckets;	/* of the map, from max-sources at
					 * start (a reload keeps them) */
	int		 stopping;
	struct pending	*pending;	/* answered later (request.c) */
	struct pks_state state;		/* grants and lockdown (state.c) */
	int		 state_refused;	/* the file was refused at load: move
					   it aside before writing over it */
	int		 state_dirty;	/* a recovery sequence left: the
					   file must be written (grants.c) */
	time_t		 state_retry;	/* a write failed: the next try
					   (monotonic), 0: none */
};

extern struct monitor	*env;

/* clock.c */
time_t	 mono_now(void);
time_t	 mono_to_wall(time_t);
time_t	 wall_to_mono(time_t);
const char *clock_date(time_t, char *, size_t);
int64_t	 wall_ms(void);
int64_t	 mono_ms(void);
int64_t	 mono_ms_until(time_t);
int64_t	 mono_ms_to_wall(int64_t);

/* text.c */
#define TEXT_MORE	48	/* room kept in a text for "... and N more
				   lines" (text_finish) */
struct text {
	char		buf[PKS_FLEET_TEXT_MAX];
	size_t		max;		/* bytes it may hold: 0, a Telegram
					   message's (PKS_TEXT_MAX); a fleet
					   host's answer, more */
	size_t		len;
	int		full;		/* a piece did not fit (text_add) */
	unsigned	more;		/* lines that did not fit */
	int		open_line;	/* the last piece left out ends a line
					   without its newline */
};
void	 text_add(struct text *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 text_vadd(struct text *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 text_addn(struct text *, const char *, size_t);
size_t	 text_finish(struct text *);
const char *addr_str(int, const uint8_t *, char *, size_t);
const char *actor_str(int64_t, const char *, char *, size_t);
int	 addr_parse(const char *, int *, uint8_t *);
int	 num_parse(const char *, int64_t, int64_t, int64_t *);
int	 user_id_parse(const char *, int64_t *);
void	 text_clean(char *, size_t, const char *, size_t);

/* reply.c */
enum reply_style {
	STYLE_PLAIN,
	STYLE_BOLD,
	STYLE_CODE
};
enum reply_to {
	REPLY_HERE,		/* where the request was made */
	REPLY_PRIVATE,		/* the person only; alt: a hint for a
				   group if that cannot be delivered */
	REPLY_CHOICE		/* here, alt: the choices, space separated */
};
#define REPLY_MARKS	32
struct reply {
	enum reply_to	 to;
	struct text	 t;		/* the words, without markup */
	size_t		 nmark;
	struct {
		uint16_t	 off;
		uint8_t		 style;
	}		 mark[REPLY_MARKS];	/* style from off on */
	struct text	 alt;		/* plain */
};
void	 reply_init(struct reply *);
void	 reply_add(struct reply *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 reply_style(struct reply *, enum reply_style);
void	 reply_who(struct reply *, const char *, int64_t);
void	 reply_actor(struct reply *, int64_t, const char *);
void	 reply_html(const struct reply *, struct text *);
void	 reply_plain(const struct reply *, struct text *);
int	 reply_fits(const struct reply *, size_t);

/* state.c */
void	 state_clear(struct pks_state *);
int	 state_duration(const char *, uint32_t *);
struct grant *state_find(struct pks_state *, int64_t, const char *);
int	 state_grant(struct pks_state *, const struct grant *);
int	 state_ungrant(struct pks_state *, int64_t, const char *);
int	 state_recov_add(struct pks_state *, const struct recov *);
size_t	 state_expire(struct pks_state *, time_t, struct grant *, size_t);
int	 state_allows(const struct pks_state *, int64_t, const char *,
	    time_t);
time_t	 state_next_expiry(const struct pks_state *);
int	 state_parse(struct pks_state *, const char *, size_t, char *,
	    size_t);
char	*state_format(const struct pks_state *, size_t *);
int	 state_load(const char *, struct pks_state *, char *, size_t);
int	 state_save(const char *, const struct pks_state *, char *, size_t);
#ifdef PKS_TESTHOOKS
extern int	 state_test_delay_ms;	/* testhook.c sets it */
#endif
int	 state_keep_aside(const char *, char *, size_t, char *, size_t);

/* child.c */
void	 child_init_all(void);
int	 child_start(enum pks_proc);
void	 child_stop_all(int);
int	 child_signal(enum pks_proc, int);
enum pks_proc child_reaped(pid_t);
void	 child_gone(enum pks_proc, int);
unsigned int child_restart_due(time_t);
time_t	 child_next_deadline(void);
void	 child_kill(enum pks_proc, const char *);
void	 child_send(enum pks_proc, uint32_t, int, const void *, size_t);
int	 child_sendv(enum pks_proc, uint32_t, const struct iovec *, int);
int	 child_taking(enum pks_proc);
void	 child_flush_all(void);
int	 child_read(enum pks_proc);
int	 child_get(enum pks_proc, struct imsg *);
void	 child_log(enum pks_proc, const struct pks_log *, const char *,
	    size_t);
void	 child_ready(enum pks_proc);
int	 child_all_ready(void);
int	 child_hearing(void);
#define CHILD_BIT(id)	(1U << (id))

/* policy.c */
int	 policy_is_admin(int64_t);
int	 policy_allowed(int64_t, int64_t, int);
int	 policy_locked(void);

/* window.c */
enum win_event {
	WIN_EV_OPENED,
	WIN_EV_CLOSED
};
int	 win_open(const struct sequence *, int, const uint8_t *);
void	 win_fw_result(const struct pks_fw_result *);
void	 win_expire(time_t);
time_t	 win_next_deadline(void);
void	 win_push_all(void);
void	 win_close_all(void);
int	 win_close_addr(int, const uint8_t *);
int	 win_close_every(void);
void	 win_reconf(void);
const struct window *win_each(const struct window *, int64_t, int);
long long win_left(const struct window *, time_t);

/* seq.c */
enum {
	SEQ_OK,
	SEQ_FULL,		/* max-sequences live */
	SEQ_CHAT_FULL,		/* max-sequences-per-chat asked in the chat */
	SEQ_FAILED		/* no room in the range, no memory: logged */
};
struct sequence *seq_generate(const struct origin *, int, int64_t, int64_t,
	    const char *, int, const uint8_t *, int *);
void	 seq_remove(struct sequence *);
int	 seq_revoke_user(int64_t, int);
int	 seq_revoke_unallowed(int64_t);
struct sequence *seq_find(uint32_t);
const struct sequence *seq_each(const struct sequence *, int64_t);
const struct sequence *seq_each_recovery(const struct sequence *);
int	 seq_recovery_len(const struct pks_conf *);
const char *seq_recovery_refused(const struct pks_conf *);
struct sequence *seq_recovery_add(int, int64_t, time_t, int64_t, time_t,
	    const struct pks_seq *, const char **);
void	 seq_reply_knock(struct reply *, const struct pks_seq *);
int	 seq_armed(const struct sequence *);
void	 seq_push_all(void);
void	 seq_expire(time_t);
time_t	 seq_next_deadline(void);
void	 seq_knock_done(const struct pks_knock *);
void	 seq_reconf(void);

/* reply.c, continued: words about windows and sequences */
void	 reply_window(struct reply *, const struct window *, enum win_event);
void	 reply_seq_gone(struct reply *, const struct sequence *);

/* grants.c */
void	 grants_init(void);
void	 grants_reload(void);
int	 grants_save(void);
void	 grants_expire(time_t);
void	 grants_sync(void);
time_t	 grants_next_deadline(void);

/* request.c, admin.c: requests of any origin */
enum req_cmd {
	REQ_NONE = 0,
	REQ_HELP,
	REQ_WHOAMI,
	REQ_GENERATE,		/* argv[0]: service or "", argv[1]: address
				   or "" */
	REQ_STATUS,
	REQ_REVOKE,
	REQ_UNKNOWN,
	/* admin commands: nargs words in argv[] */
	REQ_GRANT,
	REQ_UNGRANT,
	REQ_USERS,
	REQ_WINDOWS,
	REQ_CLOSE,
	REQ_REVOKE_USER,
	REQ_LOCKDOWN,
	REQ_UNLOCK,
	REQ_RECOVERY
};

struct request {
	const struct origin *origin;
	uint32_t	 id;		/* the origin's request id, never 0 */
	enum req_cmd	 cmd;
	int64_t		 user;		/* the person, 0 if none */
	int64_t		 chat;		/* where asked */
	uint32_t	 thread;	/* where in that chat (a forum topic),
					   0: nowhere in particular */
	int		 private;	/* asked in the person's private chat */
	uint32_t	 age;		/* seconds since it was asked */
	char		 user_name[64];
	uint32_t	 nargs;
	char		 argv[PKS_ARGS_MAX][64];
	int64_t		 reply_user;	/* a request made as a reply to
					   someone's message: that person */
	char		 reply_user_name[64];
	int		 terse;		/* one part of an answer gathered from
					   many hosts: a /status with nothing
					   to tell has no words */
	char		 where[PKS_NAME_MAX];	/* how the command names this
					   host in a fleet, for a usage line
					   ("web2" asked through the front,
					   "[HOST|all]" asked of the front),
					   "": not at all */
	time_t		 answer_by;	/* monotonic: nobody hears an answer
					   made later (a fleet request's
					   expiry); 0: no such time */
};

/*
 * An origin: where requests come from and how they are answered.  The
 * monitor decides the same way for every origin.
 */
struct origin {
	const char	*name;
	/* the answer to req: 0 if handed on for delivery, -1 if it cannot
	   be (the child that carries it is down or restarting) */
	int	(*reply)(const struct request *, const struct reply *);
	/* req is handled: the origin may forget it */
	void	(*done)(const struct request *);
	/* a line for the people who follow admin actions, except one */
	void	(*notify)(int64_t, const struct reply *);
	/* a window of a sequence this origin asked for opened or closed */
	void	(*window)(const struct window *, enum win_event);
	/* a sequence with a message (msg_id) is gone: used, expired or
	   revoked; its message must say so, without the ports */
	void	(*seq_gone)(const struct sequence *);
	/* bytes of an answer's words (struct text's max): 0, a message */
	size_t	  text_max;
};

void	 request_handle(const struct request *);
void	 request_delivered(const struct origin *, uint32_t, int, int64_t,
	    int, int64_t);
void	 request_origin_gone(const struct origin *);
void	 request_armed(void);
void	 request_expire(time_t);
time_t	 request_next_deadline(void);
int	 request_status_private(const struct request *, struct reply *);
int	 request_allowed(const struct request *, struct text *);
void	 admin_handle(const struct request *, struct reply *,
	    struct reply *);
int	 admin_is_command(enum req_cmd);
void	 admin_help(struct reply *);
int	 admin_lockdown(int, int64_t, const char *, struct reply *,
	    struct reply *);

/* recovery.c */
void	 recovery_init(const struct origin *);
int	 recovery_issue(int64_t, const char *, unsigned int, int64_t,
	    const char *, struct reply *, struct reply *);
int	 recovery_revoke(uint32_t, int64_t, const char *, struct reply *,
	    struct reply *);
int	 recovery_knock(const struct pks_knock *);
void	 recovery_unsent(const char *);
int	 recovery_command(const struct request *, struct reply *,
	    struct reply *);

/* telegram.c */
extern const struct origin telegram_origin;
void	 telegram_request(const struct pks_tg_req *);
void	 telegram_to_request(const struct pks_tg_req *, struct request *);
void	 telegram_message(int64_t, const struct reply *);
void	 telegram_edit(int64_t, int64_t, const struct reply *);
void	 telegram_sent(const struct pks_tg_sent *);
void	 telegram_migrated(const struct pks_tg_migrated *);

/* fleet.c */
int	 fleet_tg_request(const struct pks_tg_req *);
int	 fleet_tg_sent(const struct pks_tg_sent *);
void	 fleet_link(const struct pks_fleet_state *);
void	 fleet_hello(const struct pks_fleet_hello *);
void	 fleet_req(const struct pks_fleet_req *);
void	 fleet_sent(const struct pks_fleet_sent *);
void	 fleet_reply(const struct pks_fleet_reply *, const char *,
	    const char *);
void	 fleet_notice(const struct pks_fleet_reply *, const char *,
	    const char *);
void	 fleet_child_gone(void);
void	 fleet_tg_gone(void);
void	 fleet_expire(time_t);
time_t	 fleet_next_deadline(void);
void	 fleet_show(struct text *);
#ifdef PKS_TESTHOOKS
extern int	 fleet_test_hello_s;	/* testhook.c sets it */
#endif

/* fleetauth.c */
void	 fleet_refused(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
void	 fleet_refused_held(time_t);
int	 fleet_auth_known(const char *);
void	 fleet_auth_reconf(void);
int	 fleet_auth_sign_req(struct pks_fleet_req *);
int	 fleet_auth_req(const struct pks_fleet_req *);
int	 fleet_auth_sign_sent(struct pks_fleet_sent *);
int	 fleet_auth_sent(const struct pks_fleet_sent *);
void	 fleet_auth_front_used(int);
int	 fleet_auth_sign_words(uint32_t, struct pks_fleet_reply *,
	    const char *, const char *);
int	 fleet_auth_words(uint32_t, const struct pks_fleet_reply *,
	    const char *, const char *);
int	 fleet_auth_bound(const struct pks_fleet_reply *, const char *,
	    int64_t, int64_t, const uint8_t *);

/* control.c */
struct pollfd;
int	 control_init(const char *);
void	 control_cleanup(void);
int	 control_pollfds(struct pollfd *);
void	 control_dispatch(struct pollfd *, int);

/* ready.c */
void	 ready_init(void);
int	 ready_check_ifaces(const struct pks_conf *);
void	 ready_child_up(enum pks_proc);
void	 ready_child_down(enum pks_proc);
void	 ready_stopping(void);

/* sandbox.c */
extern const struct sandbox_rule	monitor_rules[];
extern const size_t			monitor_nrules;
void	 monitor_sandbox(void);

#ifdef PKS_TESTHOOKS
/* testhook.c */
void	 testhook_init(void);
void	 testhook_seqs(void);
void	 testhook_reap_pause(void);
time_t	 testhook_observed_save_s(time_t);
#endif

/* dispatch.c */
int	 monitor_dispatch_imsg(enum pks_proc, int);

/* reload.c */
int	 monitor_reload(void);
void	 monitor_started(unsigned int);

#endif /* PKS_MONITOR_H */
