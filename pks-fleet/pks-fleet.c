/*
 * pks-fleet: the monitor's link to the fleet's MQTT broker (issue 17).
 *
 * Speaks MQTT 5 over TLS with libmosquitto, driven from this process's
 * own poll() loop (mosquitto_socket, mosquitto_loop_read/write/misc): no
 * thread.  Everything that needs a path is done before the chroot: the
 * CA, the certificate and its key become an SSL_CTX handed to
 * libmosquitto (MOSQ_OPT_SSL_CTX), the broker's name is resolved to an
 * address, and the name is checked against the broker's certificate by
 * OpenSSL itself.  After that the process is unprivileged, chrooted and
 * under its seccomp allow-list (sandbox.c).
 *
 * It only relays: a host's pks-fleet turns the requests of the front
 * into IMSG_FLEET_REQ for its monitor and publishes the answers; the
 * front's turns the hosts' answers into IMSG_FLEET_REPLY.  Every broker
 * message is checked by wire.c and a bad one is refused with a log line.
 * The monitor decides everything (pks-monitor/fleet.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "fleet.h"
#include "log.h"
#include "proc.h"

#define FILE_MAX	(1024 * 1024)	/* bytes of a CA, certificate, key */
#define KEEPALIVE	30		/* seconds, MQTT keep-alive */
#define BACKOFF_MAX	10		/* seconds between reconnects, at most */
#define QOS		1
#define CONNECT_WAIT	5		/* seconds a connection may take */

static struct pks_fleet_conf	 conf;
static int			 have_conf;
static char			*ca, *cert, *key, *password;
static size_t			 calen, certlen, keylen;
static struct mosquitto		*mosq;
static struct pks_fleet_state	 st;
static int			 linked;	/* TCP+TLS+MQTT session up */
static time_t			 attempt_at;	/* monotonic: a connection is
						   being made since; 0: none */
static time_t			 retry_at;	/* monotonic: the next try */
static time_t			 hello_at;	/* monotonic: a host's next
						   hello */
static int			 hello_every = PKS_FLEET_HELLO_EVERY;
#ifdef PKS_TESTHOOKS
/* test builds: SIGUSR1 sends the monitor a delivery outcome it refuses
 * (ok with status 500): a host's monitor must kill us (t_fleet) */
static volatile sig_atomic_t	 sent_forge;

static void
sent_forge_sig(int sig)
{
	(void)sig;
	sent_forge = 1;
}

static void
sent_forged(void)
{
	struct pks_fleet_sent	fs;

	sent_forge = 0;
	memset(&fs, 0, sizeof(fs));
	fs.id = 1;
	memcpy(fs.host, conf.name, sizeof(fs.host));
	fs.ok = 1;
	fs.status = 500;
	proc_compose(IMSG_FLEET_SENT, -1, &fs, sizeof(fs));
}
#endif

/* refused broker messages: a flood of junk must not flood the log */
static struct log_flood		 refused_log = { .what = "broker messages" };
static unsigned int		 backoff;

static time_t
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
wipe(char **p, size_t len)
{
	if (*p == NULL)
		return;
	explicit_bzero(*p, len);
	free(*p);
	*p = NULL;
}

/* ---------------------------------------------------------------- conf */

static int
conf_file(struct imsg *im, char **dst, size_t *lenp, const char *what)
{
	size_t	len;

	if (im->len != 0 || im->fd == -1 || *dst != NULL)
		return -1;
	if ((*dst = proc_read_fd(im->fd, FILE_MAX, &len)) == NULL) {
		log_warn("%s", what);
		return -1;
	}
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

static int
fleet_conf(struct imsg *im)
{
	size_t	len;
	int	rc = -1;

	switch (im->hdr.type) {
	case IMSG_FLEET_CONF:
		if (im->len != sizeof(conf) || im->fd != -1 || have_conf)
			break;
		memcpy(&conf, im->data, sizeof(conf));
		if (memchr(conf.host, '\0', sizeof(conf.host)) == NULL ||
		    conf.host[0] == '\0' || conf.port == 0 ||
		    memchr(conf.name, '\0', sizeof(conf.name)) == NULL ||
		    !conf_valid_name(conf.name) ||
		    (conf.role != PKS_FLEET_HOST &&
		    conf.role != PKS_FLEET_FRONT))
			break;
		have_conf = 1;
		rc = 0;
		break;
	case IMSG_FLEET_CA:
		rc = conf_file(im, &ca, &calen, "fleet ca-file");
		break;
	case IMSG_FLEET_CERT:
		rc = conf_file(im, &cert, &certlen, "fleet cert-file");
		break;
	case IMSG_FLEET_KEY:
		rc = conf_file(im, &key, &keylen, "fleet key-file");
		break;
	case IMSG_FLEET_PASSWORD:
		if ((rc = conf_file(im, &password, &len,
		    "fleet password-file")) == 0) {
			/* the first line */
			password[strcspn(password, "\r\n")] = '\0';
			if (password[0] == '\0') {
				log_warnx("fleet password-file: empty");
				rc = -1;
			}
		}
		break;
	}
	if (im->fd != -1) {
		close(im->fd);
		im->fd = -1;
	}
	return rc;
}

/* ----------------------------------------------------------------- TLS */

/* the broker's host: an IPv6 address is [v6] in the URL, bare elsewhere */
static void
broker_host(char host[sizeof(conf.host)])
{
	const char	*h = conf.host[0] == '[' ? conf.host + 1 : conf.host;
	size_t		 n = strnlen(h, sizeof(conf.host) - 1);

	memcpy(host, h, n);
	host[n] = '\0';
	if (n > 0 && host[n - 1] == ']')
		host[n - 1] = '\0';
}

static int
tls_warn(const char *what)
{
	unsigned long	e = ERR_get_error();
	char		buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("%s: %s", what, e != 0 ? buf : "failed");
	ERR_clear_error();
	return -1;
}

/* PEM certificates of buf into the CTX's store */
static int
tls_load_ca(SSL_CTX *ctx, const char *buf, size_t len)
{
	X509_STORE	*store = SSL_CTX_get_cert_store(ctx);
	BIO		*bio;
	X509		*x;
	int		 n = 0;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n > 0 ? 0 : -1;
}

static int
tls_load_cert(SSL_CTX *ctx)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pk;
	int		 rc = -1;

	if ((bio = BIO_new_mem_buf(cert, (int)certlen)) == NULL)
		return -1;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		return tls_warn("fleet cert-file");
	}
	X509_free(x);
	if ((bio = BIO_new_mem_buf(key, (int)keylen)) == NULL)
		return -1;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk != NULL && SSL_CTX_use_PrivateKey(ctx, pk) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1)
		rc = 0;
	else
		tls_warn("fleet key-file (not the key of cert-file?)");
	EVP_PKEY_free(pk);
	return rc;
}

/*
 * The TLS context libmosquitto uses as it is: TLS 1.2 at least, the
 * broker's certificate checked against the CA and its name against the
 * broker's host (libmosquitto connects to the address resolved here).
 */
static SSL_CTX *
tls_setup(void)
{
	SSL_CTX			*ctx;
	X509_VERIFY_PARAM	*vp;
	struct in6_addr		 a6;
	struct in_addr		 a4;
	char			 host[sizeof(conf.host)];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_warn("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (tls_load_ca(ctx, ca, calen) == -1) {
		log_warnx("fleet ca-file: no PEM certificate in it");
		goto fail;
	}
	if (cert != NULL && tls_load_cert(ctx) == -1)
		goto fail;
	vp = SSL_CTX_get0_param(ctx);
	broker_host(host);
	if (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
			goto fail;
	} else if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
		goto fail;
	return ctx;
 fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* the broker's address as text, looked up now: no resolver after chroot */
static int
resolve(void)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[sizeof(conf.host)];
	int		 e;

	broker_host(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		log_warnx("broker %s: %s", host, gai_strerror(e));
		return -1;
	}
	e = getnameinfo(res->ai_addr, res->ai_addrlen, conf.addr,
	    sizeof(conf.addr), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (e != 0) {
		log_warnx("broker %s: %s", host, gai_strerror(e));
		return -1;
	}
	log_debug("broker %s is %s", host, conf.addr);
	return 0;
}

/* ---------------------------------------------------------------- MQTT */

static void
state_send(void)
{
	st.connected = linked;
	proc_compose(IMSG_FLEET_STATE, -1, &st, sizeof(st));
}

/* payload: made by wire.c (NULL: could not be), freed here */
static void
publish(const char *host, const char *what, char *payload,
    const size_t *lenp, int retain)
{
	char	topic[FLEET_TOPIC_MAX];
	size_t	len = *lenp;	/* read after wire.c wrote it */
	int	rc;

	if (payload == NULL) {
		log_warnx("cannot encode a message for %s", host);
		return;
	}
	if (wire_topic(topic, sizeof(topic), host, what) == -1)
		log_warnx("no topic for host \"%s\"", host);
	else if ((rc = mosquitto_publish_v5(mosq, NULL, topic, (int)len,
	    payload, QOS, retain, NULL)) != MOSQ_ERR_SUCCESS)
		/* the front answers "did not answer" after its timeout */
		log_warnx("publish to %s: %s", topic, mosquitto_strerror(rc));
	free(payload);
}

/*
 * A host says it is there: at each connection, then every hello_every
 * seconds, so that the front tells a quiet host from a gone one (/hosts).
 * Retained: a front that starts later knows this host, and how long ago
 * it last spoke (the date in it).
 */
static void
hello(void)
{
	size_t	len = 0;

	publish(conf.name, "hello", wire_hello(time(NULL), &len), &len, 1);
	hello_at = mono() + hello_every;
}

static void
on_connect(struct mosquitto *m, void *arg, int rc, int flags,
    const mosquitto_property *props)
{
	(void)arg;
	(void)flags;
	(void)props;
	if (rc != 0) {
		log_warnx("broker refused the connection: %s",
		    mosquitto_reason_string(rc));
		st.error = rc;
		return;		/* it disconnects: on_disconnect */
	}
	linked = 1;
	attempt_at = 0;
	backoff = 0;
	st.error = 0;
	log_info("connected to the broker %s:%u as %s", conf.host, conf.port,
	    conf.name);
	if (conf.role == PKS_FLEET_FRONT) {
		mosquitto_subscribe_v5(m, NULL, "pks/+/reply", QOS, 0, NULL);
		mosquitto_subscribe_v5(m, NULL, "pks/+/hello", QOS, 0, NULL);
	} else {
		char	topic[FLEET_TOPIC_MAX];

		wire_topic(topic, sizeof(topic), conf.name, "req");
		mosquitto_subscribe_v5(m, NULL, topic, QOS, 0, NULL);
		hello();
	}
	state_send();
}

/* the session ended, or a try failed: the next try after a back-off */
static void
link_down(int rc)
{
	if (linked)
		log_warnx("lost the broker: %s", rc == 0 ? "closed" :
		    mosquitto_strerror(rc));
	linked = 0;
	attempt_at = 0;
	if (rc != 0)
		st.error = rc;
	backoff = backoff == 0 ? 1 : backoff * 2;
	if (backoff > BACKOFF_MAX)
		backoff = BACKOFF_MAX;
	retry_at = mono() + backoff;
	state_send();
}

static void
on_disconnect(struct mosquitto *m, void *arg, int rc,
    const mosquitto_property *props)
{
	(void)m;
	(void)arg;
	(void)props;
	link_down(rc);
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *mm,
    const mosquitto_property *props)
{
	static struct wire_msg	 w;
	struct iovec		 iov[3];
	char			 why[128];

	(void)m;
	(void)arg;
	(void)props;
	st.received++;
	st.last = time(NULL);
	if (wire_decode(conf.name, conf.role == PKS_FLEET_FRONT, mm->topic,
	    mm->payload, mm->payloadlen < 0 ? 0 : (size_t)mm->payloadlen, &w,
	    why, sizeof(why)) == -1) {
		st.refused++;
		log_flood_warnx(&refused_log, mono(), "refused a broker "
		    "message on %.80s (%d bytes): %s", mm->topic,
		    mm->payloadlen, why);
		state_send();
		return;
	}
	switch (w.type) {
	case WIRE_REQ:
		proc_compose(IMSG_FLEET_REQ, -1, &w.req, sizeof(w.req));
		break;
	case WIRE_SENT:
		proc_compose(IMSG_FLEET_SENT, -1, &w.sent, sizeof(w.sent));
		break;
	case WIRE_REPLY:
	case WIRE_NOTICE:
		iov[0].iov_base = &w.reply;
		iov[0].iov_len = sizeof(w.reply);
		iov[1].iov_base = w.text;
		iov[1].iov_len = w.reply.textlen;
		iov[2].iov_base = w.alt;
		iov[2].iov_len = w.reply.altlen;
		if (imsg_composev(proc_ibuf, w.type == WIRE_REPLY ?
		    IMSG_FLEET_REPLY : IMSG_FLEET_NOTICE, 0, -1, iov, 3) == -1)
			fatal("imsg_composev");
		break;
	case WIRE_HELLO:
		proc_compose(IMSG_FLEET_HELLO, -1, &w.hello, sizeof(w.hello));
		break;
	default:
		break;
	}
	state_send();
}

static void
on_log(struct mosquitto *m, void *arg, int level, const char *s)
{
	(void)m;
	(void)arg;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_info("libmosquitto: %s", s);
	else
		log_debug("libmosquitto: %s", s);
}

static void
mqtt_setup(SSL_CTX *ctx)
{
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS)
		fatalx("mosquitto_lib_init failed");
	/* the client id is the host's name: the broker drops an older
	 * session of the same host */
	if ((mosq = mosquitto_new(conf.name, true, NULL)) == NULL)
		fatal("mosquitto_new");
	if (mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
	    MQTT_PROTOCOL_V5) != MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) !=
	    MOSQ_ERR_SUCCESS ||
	    mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx) !=
	    MOSQ_ERR_SUCCESS)
		fatalx("cannot set up libmosquitto");
	if (password != NULL && mosquitto_username_pw_set(mosq, conf.name,
	    password) != MOSQ_ERR_SUCCESS)
		fatalx("cannot set the fleet password");
	wipe(&password, strlen(password != NULL ? password : ""));
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
	mosquitto_message_v5_callback_set(mosq, on_message);
	mosquitto_log_callback_set(mosq, on_log);
}

/* ------------------------------------------------------ monitor, loop */

static int
recv_reply(struct imsg *im, int notice)
{
	struct pks_fleet_reply	r;
	const char		*text, *alt;
	size_t			 len = 0;

	if (im->len < sizeof(r))
		return -1;
	memcpy(&r, im->data, sizeof(r));
	if (im->len != sizeof(r) + r.textlen + r.altlen ||
	    r.nmark > PKS_FLEET_MARKS)
		return -1;
	text = (const char *)im->data + sizeof(r);
	alt = text + r.textlen;
	publish(conf.name, "reply", wire_reply(notice, &r, text, alt, &len),
	    &len, 0);
	return 0;
}

static int
dispatch(struct imsg *im)
{
	struct pks_fleet_req	r;
	struct pks_fleet_sent	s;
	size_t			len = 0;

	switch (im->hdr.type) {
	case IMSG_FLEET_REQ:
		if (im->len != sizeof(r) || conf.role != PKS_FLEET_FRONT)
			return -1;
		memcpy(&r, im->data, sizeof(r));
		if (memchr(r.host, '\0', sizeof(r.host)) == NULL)
			return -1;
		publish(r.host, "req", wire_req(&r, &len), &len, 0);
		return 0;
	case IMSG_FLEET_SENT:
		if (im->len != sizeof(s) || conf.role != PKS_FLEET_FRONT)
			return -1;
		memcpy(&s, im->data, sizeof(s));
		if (memchr(s.host, '\0', sizeof(s.host)) == NULL)
			return -1;
		publish(s.host, "req", wire_sent(&s, &len), &len, 0);
		return 0;
	case IMSG_FLEET_REPLY:
		return recv_reply(im, 0);
	case IMSG_FLEET_NOTICE:
		return recv_reply(im, 1);
	default:
		return -1;
	}
}

/* a try; reconnect_async closes what is left of the last one first */
static void
mqtt_connect(int first)
{
	int	rc;

	attempt_at = mono();
	if (first)
		rc = mosquitto_connect_async(mosq, conf.addr, conf.port,
		    KEEPALIVE);
	else
		rc = mosquitto_reconnect_async(mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_debug("connect to the broker: %s", rc == MOSQ_ERR_ERRNO ?
		    strerror(errno) : mosquitto_strerror(rc));
		link_down(rc);
	}
}

int
main(int argc, char *argv[])
{
	struct pollfd	 pfd[2];
	SSL_CTX		*ctx;
	int		 sock, first = 1;
#ifdef PKS_TESTHOOKS
	int		 n;
#endif
	time_t		 now;

	proc_start(proc_name(PROC_FLEET), argc, argv);
	proc_read_conf(fleet_conf);
	if (!have_conf || ca == NULL || (cert == NULL) != (key == NULL) ||
	    (cert == NULL && password == NULL))
		fatalx("configuration incomplete: broker, CA and a "
		    "certificate with its key or a password are needed");
	if (resolve() == -1)
		fatalx("cannot resolve the broker");
	if ((ctx = tls_setup()) == NULL)
		fatalx("cannot set up TLS");
	wipe(&key, keylen);
	mqtt_setup(ctx);
#ifdef PKS_TESTHOOKS
	signal(SIGUSR1, sent_forge_sig);	/* before the filter */
	if ((n = proc_test_env("PKS_TEST_HELLO_S", 1, 3600)) != 0)
		hello_every = n;
#endif
	proc_confine(NULL, 0, fleet_sandbox_rules, fleet_sandbox_nrules);
	state_send();

	for (;;) {
		now = mono();
		/* a try that did not become a session in time, or whose
		 * socket is gone: failed (libmosquitto may leave a refused
		 * socket open until its keep-alive) */
		if (!linked && attempt_at != 0 && (now - attempt_at >=
		    CONNECT_WAIT || mosquitto_socket(mosq) == -1))
			link_down(MOSQ_ERR_NO_CONN);
		if (!linked && attempt_at == 0 && now >= retry_at) {
			if (!first)
				log_debug("reconnecting to the broker");
			mqtt_connect(first);
			first = 0;
		}
		/* between tries the old socket is not watched */
		sock = linked || attempt_at != 0 ? mosquitto_socket(mosq) : -1;
		pfd[0].fd = PROC_FD;
		pfd[0].events = POLLIN |
		    (imsgbuf_pending(proc_ibuf) ? POLLOUT : 0);
		pfd[1].fd = sock;
		pfd[1].events = POLLIN |
		    (sock != -1 && mosquitto_want_write(mosq) ? POLLOUT : 0);
		if (poll(pfd, 2, 1000) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			proc_dispatch(dispatch);
		if (sock != -1 && !linked && (pfd[1].revents & (POLLHUP |
		    POLLERR)) && !(pfd[1].revents & POLLIN)) {
			/* refused or reset while connecting */
			link_down(MOSQ_ERR_CONN_REFUSED);
			continue;
		}
		if (sock != -1 && (pfd[1].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			mosquitto_loop_read(mosq, 64);
		if (sock != -1 && mosquitto_socket(mosq) != -1 &&
		    (pfd[1].revents & POLLOUT || mosquitto_want_write(mosq)))
			mosquitto_loop_write(mosq, 64);
		if (linked || attempt_at != 0)
			mosquitto_loop_misc(mosq);
		if (linked && conf.role != PKS_FLEET_FRONT &&
		    mono() >= hello_at)
			hello();
		log_flood_tick(&refused_log, mono());
#ifdef PKS_TESTHOOKS
		if (sent_forge)
			sent_forged();
#endif
		if (imsgbuf_pending(proc_ibuf))
			proc_flush();
	}
	/* NOTREACHED */
}
