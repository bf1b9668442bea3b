/*
 * parse_lex.c: the lexer of pks.conf.
 *
 * Tokens are bare words, "quoted strings", '{', '}', '=' and newlines,
 * which end statements.  '#' starts a comment.  "$name" outside quotes
 * is replaced by the value of the macro and that value is lexed again,
 * so a macro may hold several tokens ("{ 1 2 }").  Every error is
 * reported here, with the line, and turned into T_ERROR.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse_priv.h"

static int	lgetc(struct lexer *);
static void	lungetc(struct lexer *);
static int	isdelim(int);
static int	ismacrochar(int);
static const char *lex_getmacro(struct lexer *, const char *);
static int	lex_string(struct lexer *, struct token *);
static int	lex_expand(struct lexer *, int);

void
lex_init(struct lexer *lx, const char *file, const char *buf, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->file = file;
	lx->frames[0].buf = buf;
	lx->frames[0].len = len;
	lx->nframes = 1;
	lx->line = 1;
}

void
lex_free(struct lexer *lx)
{
	struct macro	*m, *next;

	while (lx->nframes > 1)
		free(lx->frames[--lx->nframes].owned);
	for (m = lx->macros; m != NULL; m = next) {
		next = m->next;
		free(m->name);
		free(m->value);
		free(m);
	}
	lx->macros = NULL;
}

void
conf_error(struct lexer *lx, int line, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	/* a hostile file must not flood the log: count the rest */
	if (lx->errors < CONF_ERRORS_MAX) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_warnx("%s:%d: %s", lx->file, line, msg);
	} else if (lx->errors == CONF_ERRORS_MAX)
		log_warnx("%s:%d: too many errors, not reporting more",
		    lx->file, line);
	lx->errors++;
}

/*
 * Refuse what the lexer should never see: NUL bytes and other control
 * characters, and lines longer than a token may be.  Returns the number
 * of errors; the file is not parsed if there is any.
 */
int
lex_check(struct lexer *lx)
{
	const unsigned char	*p = (const unsigned char *)lx->frames[0].buf;
	size_t			 i, len = lx->frames[0].len, col = 0;
	int			 line = 1, bad = 0, n = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			line++;
			col = 0;
			bad = 0;
			continue;
		}
		if (++col == CONF_LINE_MAX + 1) {
			conf_error(lx, line, "line too long (max %d bytes)",
			    CONF_LINE_MAX);
			n++;
		}
		if (bad || (p[i] >= 0x20 && p[i] != 0x7f) || p[i] == '\t' ||
		    p[i] == '\r')
			continue;
		if (p[i] == '\0')
			conf_error(lx, line, "NUL byte in file");
		else
			conf_error(lx, line, "control character 0x%02x in file",
			    p[i]);
		bad = 1;	/* one report per line is enough */
		n++;
	}
	return (n);
}

static int
lgetc(struct lexer *lx)
{
	struct lex_frame	*f = &lx->frames[lx->nframes - 1];

	if (f->pos >= f->len)
		return (EOF);
	return ((unsigned char)f->buf[f->pos++]);
}

static void
lungetc(struct lexer *lx)
{
	lx->frames[lx->nframes - 1].pos--;
}

static int
isdelim(int c)
{
	return (c == EOF || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '#' || c == '{' || c == '}' || c == '=' || c == '"' ||
	    c == '$');
}

static int
ismacrochar(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_');
}

static const char *
lex_getmacro(struct lexer *lx, const char *name)
{
	struct macro	*m;

	for (m = lx->macros; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return (m->value);
	return (NULL);
}

int
lex_setmacro(struct lexer *lx, const char *name, const char *value)
{
	struct macro	*m;
	char		*v;

	if ((v = strdup(value)) == NULL)
		return (-1);
	for (m = lx->macros; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0) {
			free(m->value);
			m->value = v;
			return (0);
		}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(name)) == NULL) {
		free(m);
		free(v);
		return (-1);
	}
	m->value = v;
	m->next = lx->macros;
	lx->macros = m;
	return (0);
}

/* after the opening quote; no newline in strings, \" and \\ only */
static int
lex_string(struct lexer *lx, struct token *t)
{
	size_t	n = 0;
	int	c;

	for (;;) {
		c = lgetc(lx);
		if (c == EOF || c == '\n') {
			if (c == '\n')
				lungetc(lx);
			conf_error(lx, t->line, "unterminated string");
			return (T_ERROR);
		}
		if (c == '"')
			break;
		if (c == '\\') {
			c = lgetc(lx);
			if (c != '"' && c != '\\') {
				if (c == '\n')
					lungetc(lx);
				conf_error(lx, t->line, "invalid escape in "
				    "string (only \\\" and \\\\)");
				/* go on to the closing quote, if any */
				continue;
			}
		}
		if (n >= sizeof(t->s) - 1) {
			conf_error(lx, t->line, "string too long");
			return (T_ERROR);
		}
		t->s[n++] = c;
	}
	t->s[n] = '\0';
	return (T_STRING);
}

/*
 * After '$': push the value of the macro as a new frame.  The copy keeps
 * the frame valid if the value is redefined while it is being read.
 */
static int
lex_expand(struct lexer *lx, int line)
{
	struct lex_frame	*f;
	const char		*v;
	char			 name[CONF_LINE_MAX + 1];
	size_t			 n = 0;
	int			 c;

	while ((c = lgetc(lx)) != EOF && ismacrochar(c) &&
	    n < sizeof(name) - 1)
		name[n++] = c;
	if (c != EOF)
		lungetc(lx);
	name[n] = '\0';
	if (n == 0) {
		conf_error(lx, line, "'$' not followed by a macro name");
		return (-1);
	}
	if ((v = lex_getmacro(lx, name)) == NULL) {
		conf_error(lx, line, "macro \"%s\" is not defined", name);
		return (-1);
	}
	if (lx->nframes > CONF_DEPTH_MAX) {
		conf_error(lx, line, "macro \"%s\": expansion too deep "
		    "(a macro using itself?)", name);
		return (-1);
	}
	/* bounds the work a file of nested macros can cause; say it once */
	if (lx->nexpand > CONF_EXPAND_MAX)
		return (-1);
	if (++lx->nexpand > CONF_EXPAND_MAX) {
		conf_error(lx, line, "too many macro expansions (max %d)",
		    CONF_EXPAND_MAX);
		return (-1);
	}
	f = &lx->frames[lx->nframes];
	memset(f, 0, sizeof(*f));
	if ((f->owned = strdup(v)) == NULL) {
		conf_error(lx, line, "out of memory");
		return (-1);
	}
	f->buf = f->owned;
	f->len = strlen(v);
	lx->nframes++;
	return (0);
}

int
lex_next(struct lexer *lx, struct token *t)
{
	size_t	n;
	int	c;

	if (lx->hasback) {
		lx->hasback = 0;
		if (t != &lx->back)
			memcpy(t, &lx->back, sizeof(*t));
		return (t->type);
	}
	t->s[0] = '\0';
	for (;;) {
		while ((c = lgetc(lx)) == ' ' || c == '\t' || c == '\r')
			;
		t->line = lx->line;
		if (c == '#') {
			while ((c = lgetc(lx)) != EOF && c != '\n')
				;
		}
		if (c == EOF && lx->nframes > 1) {
			/* end of a macro value: back to what used it */
			free(lx->frames[--lx->nframes].owned);
			continue;
		}
		if (c != '$')
			break;
		if (lex_expand(lx, t->line) == -1)
			return (t->type = T_ERROR);
	}

	switch (c) {
	case EOF:
		return (t->type = T_EOF);
	case '\n':
		lx->line++;
		return (t->type = T_NL);
	case '{':
		return (t->type = T_LBRACE);
	case '}':
		return (t->type = T_RBRACE);
	case '=':
		return (t->type = T_EQ);
	case '"':
		return (t->type = lex_string(lx, t));
	}

	n = 0;
	do {
		if (n >= sizeof(t->s) - 1) {
			conf_error(lx, t->line, "word too long");
			return (t->type = T_ERROR);
		}
		t->s[n++] = c;
	} while (!isdelim(c = lgetc(lx)));
	if (c != EOF)
		lungetc(lx);
	t->s[n] = '\0';
	return (t->type = T_WORD);
}

void
lex_unget(struct lexer *lx, const struct token *t)
{
	if (t != &lx->back)
		memcpy(&lx->back, t, sizeof(*t));
	lx->hasback = 1;
}

int
lex_peek(struct lexer *lx)
{
	if (!lx->hasback) {
		lex_next(lx, &lx->back);
		lx->hasback = 1;
	}
	return (lx->back.type);
}

/* what a token looks like in an error message */
const char *
lex_tokdesc(const struct token *t, char *buf, size_t len)
{
	switch (t->type) {
	case T_EOF:
		return ("end of file");
	case T_NL:
		return ("end of line");
	case T_LBRACE:
		return ("'{'");
	case T_RBRACE:
		return ("'}'");
	case T_EQ:
		return ("'='");
	case T_ERROR:
		return ("invalid token");
	}
	if (strlen(t->s) > 40)
		snprintf(buf, len, "\"%.40s...\"", t->s);
	else
		snprintf(buf, len, "\"%s\"", t->s);
	return (buf);
}
