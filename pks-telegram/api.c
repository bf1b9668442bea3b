/*
 * api.c: HTTPS calls to the Bot API with libcurl's multi interface.
 *
 * Each tg_call is one easy handle that runs one call at a time; several
 * run side by side in one multi handle, so a sendMessage goes out while
 * a 50 s getUpdates is waiting, and the caller's single poll() loop
 * (tg_api_wait) also watches the monitor's socket.
 *
 * Certificates are always verified, against the CA bundle the monitor
 * passed (read into memory before chroot: no path is reachable after).
 * Names are resolved before chroot too (tg_resolve) and handed to curl
 * as CURLOPT_RESOLVE entries, so curl never needs a resolver (or its
 * resolver thread) inside the sandbox.
 *
 * The token is part of every URL.  Nothing here logs a URL, verbose
 * output is never switched on, and every error text that leaves this
 * file goes through tg_scrub() first.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "log.h"
#include "telegram.h"

#define RESP_MAX	(2 * 1024 * 1024)	/* 32 updates fit easily */
#define CALLS_MAX	4
#define KB_PER_ROW	3		/* keyboard buttons per row */

struct tg_call {
	struct tg_api	*api;
	CURL		*easy;
	const char	*method;
	int		 busy;
	char		*resp;
	size_t		 rlen;
	size_t		 rcap;
	int		 toobig;
	char		 errbuf[CURL_ERROR_SIZE];
	tg_call_cb	 cb;
	void		*arg;
};

struct tg_api {
	CURLM			*multi;
	char			*base;		/* api-url/bot<token>/ */
	char			 secret[256];	/* token after the colon */
	struct curl_blob	 ca;
	struct curl_slist	*resolve;
	struct curl_slist	*hdrs;
	long			 ipresolve;
	int			 plain;		/* http:// to loopback */
	struct tg_call		 calls[CALLS_MAX];
	int			 ncalls;
	char			 errmsg[CURL_ERROR_SIZE + 64];
};

/* Replace every occurrence of the token's secret part with "***". */
void
tg_scrub(char *s, const char *secret)
{
	size_t	 sl = strlen(secret);
	char	*p;

	if (sl < 4)
		return;
	while ((p = strstr(s, secret)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + sl, strlen(p + sl) + 1);
	}
}

/*
 * Resolve the host of url now, while /etc/hosts and the resolver are
 * reachable, into a CURLOPT_RESOLVE entry "host:port:addr[,addr]".  An
 * address literal needs no entry (*entry = "").  The addresses stay
 * fixed for the life of the process: if they go stale, the calls fail,
 * the worker exits after a run of failures and the monitor restarts
 * it, which resolves again.
 */
int
tg_resolve(const char *url, char *entry, size_t sz, int *ipresolve)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	CURLU		*u;
	char		*host = NULL, *port = NULL;
	char		 a[INET6_ADDRSTRLEN];
	struct in6_addr	 a6;
	struct in_addr	 a4;
	int		 rc = -1, n, v4 = 0, v6 = 0, e;
	size_t		 len;

	*entry = '\0';
	*ipresolve = CURL_IPRESOLVE_WHATEVER;
	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
	    != CURLUE_OK) {
		log_warnx("api-url: cannot parse it");
		goto out;
	}
	if (inet_pton(AF_INET, host, &a4) == 1 || host[0] == '[' ||
	    inet_pton(AF_INET6, host, &a6) == 1) {
		rc = 0;
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("cannot resolve %s: %s", host, gai_strerror(e));
		goto out;
	}
	n = snprintf(entry, sz, "%s:%s:", host, port);
	if (n < 0 || (size_t)n >= sz)
		goto toolong;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    ai->ai_addr)->sin_addr, a, sizeof(a));
			v4 = 1;
		} else if (ai->ai_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    ai->ai_addr)->sin6_addr, a, sizeof(a));
			v6 = 1;
		} else
			continue;
		if (strstr(entry + n, a) != NULL)
			continue;	/* getaddrinfo repeats itself */
		len = strlen(entry);
		if (snprintf(entry + len, sz - len, "%s%s%s%s",
		    len > (size_t)n ? "," : "",
		    ai->ai_family == AF_INET6 ? "[" : "", a,
		    ai->ai_family == AF_INET6 ? "]" : "") >= (int)(sz - len))
			goto toolong;
	}
	if (v4 && !v6)
		*ipresolve = CURL_IPRESOLVE_V4;
	else if (v6 && !v4)
		*ipresolve = CURL_IPRESOLVE_V6;
	rc = (v4 || v6) ? 0 : -1;
	goto out;
 toolong:
	log_warnx("%s: too many addresses", host);
	*entry = '\0';
 out:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/*
 * May the Bot API be reached at url?  https:// anywhere (certificates
 * verified), plain http:// only to a local Bot API server on a loopback
 * address (telegram-bot-api speaks HTTP): 127.0.0.0/8, ::1, localhost.
 * The configuration parser checks the same; this is the worker's own
 * check of what the monitor sent.
 */
int
tg_url_ok(const char *url)
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL;
	struct in_addr	 a4;
	int		 ok = 0;

	if ((u = curl_url()) == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcmp(scheme, "https") == 0)
			ok = strncmp(url, "https://", 8) == 0;
		else if (strcmp(scheme, "http") == 0 &&
		    strncmp(url, "http://", 7) == 0)
			ok = strcmp(host, "localhost") == 0 ||
			    strcmp(host, "[::1]") == 0 ||
			    (inet_pton(AF_INET, host, &a4) == 1 &&
			    (ntohl(a4.s_addr) >> 24) == 127);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

struct tg_api *
tg_api_new(const char *url, const char *token, const void *ca, size_t calen,
    const char *resolve, int ipresolve)
{
	struct tg_api	*api;
	const char	*colon;
	size_t		 ulen;

	if ((api = calloc(1, sizeof(*api))) == NULL)
		return NULL;
	if ((colon = strchr(token, ':')) == NULL ||
	    strlen(colon + 1) >= sizeof(api->secret))
		goto fail;
	memcpy(api->secret, colon + 1, strlen(colon + 1) + 1);
	ulen = strlen(url);
	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;
	if (asprintf(&api->base, "%.*s/bot%s/", (int)ulen, url, token) == -1) {
		api->base = NULL;
		goto fail;
	}
	api->ca.data = (void *)ca;
	api->ca.len = calen;
	api->ca.flags = CURL_BLOB_COPY;
	api->ipresolve = ipresolve;
	api->plain = strncmp(url, "http://", 7) == 0;
	if (resolve != NULL && *resolve != '\0' &&
	    (api->resolve = curl_slist_append(NULL, resolve)) == NULL)
		goto fail;
	if ((api->hdrs = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    curl_slist_append(api->hdrs, "Expect:") == NULL)
		goto fail;
	if ((api->multi = curl_multi_init()) == NULL)
		goto fail;
	return api;
 fail:
	free(api->base);
	curl_slist_free_all(api->resolve);
	curl_slist_free_all(api->hdrs);
	explicit_bzero(api, sizeof(*api));
	free(api);
	return NULL;
}

static size_t
call_write(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct tg_call	*c = arg;
	size_t		 n = sz * nmemb, ncap;
	char		*r;

	if (c->toobig || c->rlen + n > RESP_MAX) {
		c->toobig = 1;
		return 0;		/* curl fails the transfer */
	}
	if (c->rlen + n + 1 > c->rcap) {
		ncap = c->rcap ? c->rcap : 16384;
		while (ncap < c->rlen + n + 1)
			ncap *= 2;
		if ((r = realloc(c->resp, ncap)) == NULL)
			return 0;
		c->resp = r;
		c->rcap = ncap;
	}
	memcpy(c->resp + c->rlen, p, n);
	c->rlen += n;
	c->resp[c->rlen] = '\0';
	return n;
}

#define SETOPT(o, v)	do {						\
	if (curl_easy_setopt(c->easy, (o), (v)) != CURLE_OK) {		\
		log_warnx("curl option %s refused", #o);		\
		return NULL;						\
	}								\
} while (0)

/* One easy handle with everything that does not change between calls. */
struct tg_call *
tg_call_new(struct tg_api *api, const char *label)
{
	struct tg_call	*c;

	if (api->ncalls >= CALLS_MAX)
		return NULL;
	c = &api->calls[api->ncalls];
	memset(c, 0, sizeof(*c));
	c->api = api;
	c->method = label;
	if ((c->easy = curl_easy_init()) == NULL)
		return NULL;
	/* no SIGALRM: the process is single-threaded and sandboxed */
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	/* plain http only to a local Bot API server (see tg_url_ok) */
	SETOPT(CURLOPT_PROTOCOLS_STR, api->plain ? "http" : "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	/* verification is never switched off, whatever the api-url */
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	/* only the monitor's bundle: the default paths are not in chroot */
	SETOPT(CURLOPT_CAINFO, NULL);
	SETOPT(CURLOPT_CAPATH, NULL);
	SETOPT(CURLOPT_CAINFO_BLOB, &api->ca);
	if (api->resolve != NULL)
		SETOPT(CURLOPT_RESOLVE, api->resolve);
	SETOPT(CURLOPT_IPRESOLVE, api->ipresolve);
	SETOPT(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	SETOPT(CURLOPT_CONNECTTIMEOUT, 10L);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_HTTPHEADER, api->hdrs);
	SETOPT(CURLOPT_USERAGENT, "pks-telegram");
	SETOPT(CURLOPT_VERBOSE, 0L);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, call_write);
	SETOPT(CURLOPT_WRITEDATA, c);
	SETOPT(CURLOPT_PRIVATE, c);
	api->ncalls++;
	return c;
}

int
tg_call_busy(const struct tg_call *c)
{
	return c->busy;
}

const char *
tg_call_method(const struct tg_call *c)
{
	return c->method;
}

/*
 * Start method with a JSON body; cb runs from tg_api_perform() when it
 * ends.  The method name is a constant string: it is what logs show.
 */
int
tg_call_start(struct tg_call *c, const char *method, const char *body,
    long timeout, tg_call_cb cb, void *arg)
{
	char	*url;
	int	 rc = -1;

	if (c->busy)
		return -1;
	if (asprintf(&url, "%s%s", c->api->base, method) == -1)
		return -1;
	c->method = method;
	c->rlen = 0;
	c->toobig = 0;
	c->errbuf[0] = '\0';
	c->cb = cb;
	c->arg = arg;
	if (curl_easy_setopt(c->easy, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(c->easy, CURLOPT_COPYPOSTFIELDS, body) ==
	    CURLE_OK &&
	    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, timeout) == CURLE_OK &&
	    curl_multi_add_handle(c->api->multi, c->easy) == CURLM_OK) {
		c->busy = 1;
		rc = 0;
	}
	explicit_bzero(url, strlen(url));
	free(url);
	return rc;
}

/*
 * Wait for curl's sockets, fd (the monitor's) or timeout_ms, whichever
 * comes first.  *revents gets what happened on fd.
 */
int
tg_api_wait(struct tg_api *api, int fd, short events, int timeout_ms,
    short *revents)
{
	struct curl_waitfd	wfd;
	long			ct;
	CURLMcode		mc;

	if (curl_multi_timeout(api->multi, &ct) == CURLM_OK && ct >= 0 &&
	    ct < timeout_ms)
		timeout_ms = (int)ct;
	wfd.fd = fd;
	wfd.events = events;
	wfd.revents = 0;
	mc = curl_multi_wait(api->multi, &wfd, 1, timeout_ms, NULL);
	*revents = wfd.revents;
	if (mc != CURLM_OK) {
		log_warnx("curl_multi_wait: %s", curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

/* Drive the transfers and run the callbacks of those that ended. */
void
tg_api_perform(struct tg_api *api)
{
	struct tg_call	*c;
	CURLMsg		*m;
	long		 status;
	int		 running, left;
	char		*p;

	(void)curl_multi_perform(api->multi, &running);
	while ((m = curl_multi_info_read(api->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		if ((c = (struct tg_call *)p) == NULL)
			continue;
		status = 0;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(api->multi, c->easy);
		c->busy = 0;
		if (c->toobig)
			log_warnx("%s: reply over %d bytes", c->method,
			    RESP_MAX);
		c->cb(c, (int)m->data.result, status,
		    c->resp ? c->resp : "", c->rlen, c->arg);
	}
}

/* Why a call failed, with anything like the token scrubbed out. */
const char *
tg_api_strerror(struct tg_api *api, struct tg_call *c, int code)
{
	snprintf(api->errmsg, sizeof(api->errmsg), "%s",
	    c->errbuf[0] ? c->errbuf : curl_easy_strerror(code));
	tg_scrub(api->errmsg, api->secret);
	return api->errmsg;
}

static char *
json_out(json_object *o)
{
	const char	*s;
	char		*r = NULL;

	if (o != NULL &&
	    (s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL)
		r = strdup(s);
	json_object_put(o);
	return r;
}

/*
 * One entry of a keyboard list: "SERVICE" (here), "HOST/" (a host of
 * the fleet: its own picker) or "HOST/SERVICE" (a service there).  Its
 * label and callback_data (at most 64 bytes: "@" + 31 + "/" + 31); -1
 * if it is not of one of these shapes.
 */
int
tg_kb_entry(const char *e, size_t len, char *label, size_t labelsz,
    char *data, size_t datasz)
{
	char		 host[PKS_NAME_MAX], name[PKS_NAME_MAX];
	const char	*slash;
	size_t		 hlen;

	if ((slash = memchr(e, '/', len)) == NULL) {
		if (len >= sizeof(name))
			return -1;
		memcpy(name, e, len);
		name[len] = '\0';
		if (!conf_valid_name(name))
			return -1;
		snprintf(label, labelsz, "%s", name);
		snprintf(data, datasz, "%s%s", TG_CB_PREFIX, name);
		return 0;
	}
	hlen = slash - e;
	if (hlen >= sizeof(host) || len - hlen - 1 >= sizeof(name))
		return -1;
	memcpy(host, e, hlen);
	host[hlen] = '\0';
	memcpy(name, slash + 1, len - hlen - 1);
	name[len - hlen - 1] = '\0';
	if (!conf_valid_name(host) || (name[0] != '\0' &&
	    !conf_valid_name(name)))
		return -1;
	snprintf(label, labelsz, "%s", name[0] != '\0' ? name : host);
	snprintf(data, datasz, "%s%s%s%s", TG_CB_HOST, host,
	    name[0] != '\0' ? "/" : "", name);
	return 0;
}

/* reply_markup for a space-separated list of keyboard entries */
static json_object *
keyboard(const char *kb, size_t kblen)
{
	json_object	*mk, *rows, *row = NULL, *b;
	char		 label[PKS_NAME_MAX], data[TG_CB_DATA_MAX + 1];
	size_t		 i = 0, start;
	int		 nb = 0;

	mk = json_object_new_object();
	rows = json_object_new_array();
	json_object_object_add(mk, "inline_keyboard", rows);
	while (i < kblen && nb < TG_KB_MAX) {
		while (i < kblen && kb[i] == ' ')
			i++;
		for (start = i; i < kblen && kb[i] != ' '; i++)
			;
		if (i == start)
			break;
		if (tg_kb_entry(kb + start, i - start, label, sizeof(label),
		    data, sizeof(data)) == -1) {
			log_warnx("keyboard: bad entry, skipped");
			continue;
		}
		if (nb % KB_PER_ROW == 0) {
			row = json_object_new_array();
			json_object_array_add(rows, row);
		}
		b = json_object_new_object();
		json_object_object_add(b, "text",
		    json_object_new_string(label));
		json_object_object_add(b, "callback_data",
		    json_object_new_string(data));
		json_object_array_add(row, b);
		nb++;
	}
	if (nb == 0) {
		json_object_put(mk);
		return NULL;
	}
	return mk;
}

/*
 * A button that opens a private chat with the bot: a t.me deep link,
 * whose start parameter ([A-Za-z0-9_-], up to 64) the bot sees as
 * "/start pks"; our /start answers it like any other.
 */
static void
start_url(char *url, size_t sz, const char *bot)
{
	snprintf(url, sz, "https://t.me/%s?start=pks", bot);
}

static json_object *
start_button(const char *bot)
{
	json_object	*mk, *rows, *row, *b;
	char		 url[128];

	start_url(url, sizeof(url), bot);
	mk = json_object_new_object();
	rows = json_object_new_array();
	row = json_object_new_array();
	b = json_object_new_object();
	json_object_object_add(b, "text",
	    json_object_new_string("Start a private chat"));
	json_object_object_add(b, "url", json_object_new_string(url));
	json_object_array_add(row, b);
	json_object_array_add(rows, row);
	json_object_object_add(mk, "inline_keyboard", rows);
	return mk;
}

char *
tg_build_msg(const struct tg_msg *m)
{
	json_object	*o, *mk = NULL, *rp;

	o = json_object_new_object();
	json_object_object_add(o, "chat_id", json_object_new_int64(m->chat));
	/* topics and replies in the group only: a private chat has none */
	if (m->thread != 0 && m->chat < 0)
		json_object_object_add(o, "message_thread_id",
		    json_object_new_int64(m->thread));
	if (m->reply_to > 0 && m->chat < 0) {
		rp = json_object_new_object();
		json_object_object_add(rp, "message_id",
		    json_object_new_int64(m->reply_to));
		/* the command may be deleted meanwhile: send anyway */
		json_object_object_add(rp, "allow_sending_without_reply",
		    json_object_new_boolean(1));
		json_object_object_add(o, "reply_parameters", rp);
	}
	json_object_object_add(o, "text",
	    json_object_new_string_len(m->text, (int)m->len));
	if (m->html)
		json_object_object_add(o, "parse_mode",
		    json_object_new_string("HTML"));
	json_object_object_add(o, "disable_web_page_preview",
	    json_object_new_boolean(1));
	if (m->kb != NULL)
		mk = keyboard(m->kb, m->kblen);
	else if (m->start_bot != NULL && *m->start_bot != '\0')
		mk = start_button(m->start_bot);
	if (mk != NULL)
		json_object_object_add(o, "reply_markup", mk);
	return json_out(o);
}

/* thread: the forum topic, for a group chat only (0: none) */
char *
tg_build_send(int64_t chat, uint32_t thread, const char *text, size_t len,
    int html, const char *kb, size_t kblen)
{
	struct tg_msg	m;

	memset(&m, 0, sizeof(m));
	m.chat = chat;
	m.thread = thread;
	m.text = text;
	m.len = len;
	m.html = html;
	m.kb = kb;
	m.kblen = kblen;
	return tg_build_msg(&m);
}

char *
tg_build_getupdates(int64_t offset, int timeout)
{
	json_object	*o, *au;

	o = json_object_new_object();
	if (offset > 0)
		json_object_object_add(o, "offset",
		    json_object_new_int64(offset));
	json_object_object_add(o, "timeout", json_object_new_int(timeout));
	json_object_object_add(o, "limit", json_object_new_int(TG_UPDATES_MAX));
	au = json_object_new_array();
	json_object_array_add(au, json_object_new_string("message"));
	json_object_array_add(au, json_object_new_string("callback_query"));
	json_object_object_add(o, "allowed_updates", au);
	return json_out(o);
}

/*
 * The command menus (setMyCommands), each fitted to where it is shown:
 * private chats, groups (where the answers come in private), and an
 * admin's own menus, in their private chat and in each allowed group,
 * which also list the admin commands.  Which commands an admin may use
 * is still the monitor's call.
 */
static const struct {
	const char	*name;
	const char	*priv;		/* description in a private chat */
	const char	*group;		/* in a group; NULL: not listed */
	int		 admin;		/* only in an admin's menus */
	int		 front;		/* only on the front of a fleet */
} menu[] = {
	{ "generate", "a one-time knock sequence: /generate [service] "
	    "[address]", "a one-time knock sequence, sent to you in private",
	    0, 0 },
	{ "hosts", "the hosts of the fleet: /generate HOST [SERVICE]",
	    "the hosts of the fleet: /generate HOST [SERVICE]", 0, 1 },
	{ "status", "your live sequences and open windows",
	    "your live sequences and windows, in private", 0, 0 },
	{ "revoke", "revoke your live sequences",
	    "revoke your live sequences", 0, 0 },
	{ "whoami", "your user id", "your user id and this group's id", 0, 0 },
	{ "help", "how to use this bot", "how to use this bot", 0, 0 },
	{ "grant", "USER_ID SERVICE [DURATION]: grant a service",
	    "SERVICE [DURATION], replying to someone: grant it to them",
	    1, 0 },
	{ "ungrant", "USER_ID SERVICE: take a grant back",
	    "SERVICE, replying to someone: take their grant back", 1, 0 },
	{ "users", "who may open what", "who may open what, in private",
	    1, 0 },
	{ "windows", "the open windows", "the open windows, in private",
	    1, 0 },
	{ "close", "ADDRESS: close its windows now",
	    "ADDRESS: close its windows now", 1, 0 },
	{ "lockdown", "revoke everything, issue nothing",
	    "revoke everything, issue nothing", 1, 0 },
	{ "unlock", "lift the lockdown", "lift the lockdown", 1, 0 },
	/* break-glass sequences: in a private chat only */
	{ "recovery", "[USER_ID SERVICE [COUNT]]: break-glass sequences",
	    NULL, 1, 0 },
};

/*
 * chat: the admin's (TG_MENU_ADMIN) or the group (TG_MENU_GROUP_ADMIN);
 * front: this bot is the front of a fleet
 */
char *
tg_build_commands(enum tg_menu which, int64_t chat, int64_t admin, int front)
{
	json_object	*o, *a, *e, *sc;
	const char	*d;
	size_t		 i;
	int		 group, adm;

	group = which == TG_MENU_GROUP || which == TG_MENU_GROUP_ADMIN;
	adm = which == TG_MENU_ADMIN || which == TG_MENU_GROUP_ADMIN;
	o = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < sizeof(menu) / sizeof(menu[0]); i++) {
		d = group ? menu[i].group : menu[i].priv;
		if (d == NULL || (menu[i].admin && !adm) ||
		    (menu[i].front && !front))
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "command",
		    json_object_new_string(menu[i].name));
		json_object_object_add(e, "description",
		    json_object_new_string(d));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "commands", a);
	sc = json_object_new_object();
	json_object_object_add(sc, "type", json_object_new_string(
	    which == TG_MENU_GROUP ? "all_group_chats" :
	    which == TG_MENU_ADMIN ? "chat" :
	    which == TG_MENU_GROUP_ADMIN ? "chat_member" :
	    "all_private_chats"));
	if (adm)
		json_object_object_add(sc, "chat_id",
		    json_object_new_int64(chat));
	if (which == TG_MENU_GROUP_ADMIN)
		json_object_object_add(sc, "user_id",
		    json_object_new_int64(admin));
	json_object_object_add(o, "scope", sc);
	return json_out(o);
}

/* editMessageText: new HTML text for a message the bot sent */
char *
tg_build_edit(int64_t chat, int64_t mid, const char *text, size_t len)
{
	json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "chat_id", json_object_new_int64(chat));
	json_object_object_add(o, "message_id", json_object_new_int64(mid));
	json_object_object_add(o, "text",
	    json_object_new_string_len(text, (int)len));
	json_object_object_add(o, "parse_mode",
	    json_object_new_string("HTML"));
	return json_out(o);
}

/* answerCallbackQuery: a text to show, a private chat to open, or none */
char *
tg_build_answer(const char *id, const char *text, const char *start_bot)
{
	json_object	*o;
	char		 url[128];

	o = json_object_new_object();
	json_object_object_add(o, "callback_query_id",
	    json_object_new_string(id));
	if (text != NULL)
		json_object_object_add(o, "text",
		    json_object_new_string(text));
	if (start_bot != NULL && *start_bot != '\0') {
		start_url(url, sizeof(url), start_bot);
		json_object_object_add(o, "url", json_object_new_string(url));
	}
	return json_out(o);
}
