/*
 * parse_priv.h: inside the configuration parser: the lexer (parse_lex.c)
 * and the statement pieces (parse_value.c) that the grammar (parse.c)
 * is built from.  The rest of PKS uses conf.h only.
 */
#ifndef PKS_PARSE_PRIV_H
#define PKS_PARSE_PRIV_H

#include <stddef.h>

#define CONF_SIZE_MAX	(1024 * 1024)	/* bytes in a configuration file */
#define CONF_LINE_MAX	4096		/* bytes in a line, newline excluded */
#define CONF_DEPTH_MAX	8		/* macros expanding macros */
#define CONF_EXPAND_MAX	4096		/* macro expansions in one file */
#define CONF_ERRORS_MAX	50		/* errors logged, the rest counted */

enum tok_type {
	T_EOF = 0,
	T_NL,
	T_LBRACE,
	T_RBRACE,
	T_EQ,
	T_WORD,			/* bare word: keyword, number, name */
	T_STRING,		/* "quoted", escapes resolved */
	T_ERROR			/* already reported */
};

struct token {
	int	type;
	int	line;
	char	s[CONF_LINE_MAX + 1];
};

struct macro {
	struct macro	*next;
	char		*name;
	char		*value;
};

/* the file, then one frame per macro being expanded */
struct lex_frame {
	const char	*buf;
	size_t		 len;
	size_t		 pos;
	char		*owned;		/* copy of a macro value */
};

struct lexer {
	const char	*file;
	struct lex_frame frames[CONF_DEPTH_MAX + 1];
	int		 nframes;
	int		 line;
	int		 errors;
	int		 nexpand;
	struct macro	*macros;
	struct token	 back;		/* lex_unget() */
	int		 hasback;
};

enum vtype {
	V_STR,			/* any non-empty string */
	V_PATH,			/* absolute path */
	V_URL,			/* api-url: https, or http to this host */
	V_NUM,			/* unsigned, stored by size (2 or 4 bytes) */
	V_DURATION,		/* seconds, or N with s m h d w: 4 bytes */
	V_PROTO,		/* tcp or udp, stored as a uint8_t */
	V_FIREWALL,		/* auto, nftables or iptables, as a uint8_t */
	V_BROKER,		/* mqtts://HOST[:PORT] */
	V_ROLE,			/* front or host, as a uint8_t */
	V_MODE			/* observe or enforce, as a uint8_t */
};

/* "keyword value", stored at off in the struct a block fills */
struct setting {
	const char	*name;
	int		 type;
	size_t		 off;
	size_t		 size;
	long long	 lo;
	long long	 hi;
};

#define SET_MAX		16		/* settings in one table */

typedef int	(*cf_item_fn)(struct lexer *, const char *, struct token *,
		    void *);
/* a block's keyword before its table: 0 or -1 (a statement read), or
 * CF_TABLE: the table's to read */
#define CF_TABLE	(-2)
typedef int	(*cf_kw_fn)(struct lexer *, struct token *, void *);

/* parse_lex.c */
void	lex_init(struct lexer *, const char *, const char *, size_t);
void	lex_free(struct lexer *);
int	lex_check(struct lexer *);
int	lex_next(struct lexer *, struct token *);
void	lex_unget(struct lexer *, const struct token *);
int	lex_peek(struct lexer *);
int	lex_setmacro(struct lexer *, const char *, const char *);
const char *lex_tokdesc(const struct token *, char *, size_t);
void	conf_error(struct lexer *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* parse_value.c */
int	cf_end_stmt(struct lexer *, int);
void	cf_skip_stmt(struct lexer *, int);
int	cf_get_value(struct lexer *, const char *, struct token *);
int	cf_get_number(struct lexer *, const char *, const struct token *,
	    long long, long long, long long *);
int	cf_check_name(struct lexer *, const char *, const struct token *);
int	cf_set_setting(struct lexer *, const struct setting *, int *, size_t,
	    void *, const struct token *);
int	cf_parse_block(struct lexer *, const struct token *,
	    const struct setting *, size_t, void *, const char *, cf_kw_fn,
	    void *);
int	cf_parse_list(struct lexer *, const char *, cf_item_fn, void *);
struct conf_always;
int	cf_get_prefix(struct lexer *, const char *, struct conf_always *);

#endif /* PKS_PARSE_PRIV_H */
