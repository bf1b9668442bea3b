/*
 * pksctl: control a running pks-monitor through its local socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PKSCTL_SOCKET	"/run/pks/pks.sock"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: pksctl [-s socket] command [argument ...]\n"
	    "commands:\n"
	    "  status               children, pids, uptime, restarts,\n"
	    "                       lockdown, grants\n"
	    "  sequences [-v]       live sequences (-v: with their ports)\n"
	    "  windows              open windows\n"
	    "  grants               grants made by admins from Telegram\n"
	    "  revoke USER-ID|all   revoke live sequences\n"
	    "  close ADDRESS        close the windows of an address\n"
	    "  reload               reload the configuration\n"
	    "  recovery             recovery sequences, without their ports\n"
	    "  recovery USER-ID SERVICE [COUNT]\n"
	    "                       issue COUNT (1) recovery sequences:\n"
	    "                       shown once, keep them offline\n"
	    "  recovery revoke ID|all\n"
	    "                       revoke recovery sequences\n"
	    "  lockdown [on|off]    show, set or lift the lockdown\n"
	    "  fleet                the fleet's broker link, hosts seen\n");
	exit(1);
}

/* a word of a request: not empty, no blank (the line is split on them) */
static int
word_ok(const char *w)
{
	return w[0] != '\0' && strcspn(w, " \t\r\n") == strlen(w);
}

/* the request line, checked here so a typo gets usage, not a round trip */
static int
build_request(int argc, char **argv, char *buf, size_t len)
{
	const char	*cmd = argv[0];
	int		 n, i;

	if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "windows") == 0 ||
	    strcmp(cmd, "grants") == 0 || strcmp(cmd, "reload") == 0 ||
	    strcmp(cmd, "fleet") == 0) &&
	    argc == 1)
		n = snprintf(buf, len, "%s\n", cmd);
	else if (strcmp(cmd, "sequences") == 0 && (argc == 1 ||
	    (argc == 2 && strcmp(argv[1], "-v") == 0)))
		n = snprintf(buf, len, "%s%s\n", cmd, argc == 2 ? " -v" : "");
	else if ((strcmp(cmd, "revoke") == 0 || strcmp(cmd, "close") == 0) &&
	    argc == 2 && word_ok(argv[1]))
		n = snprintf(buf, len, "%s %s\n", cmd, argv[1]);
	else if ((strcmp(cmd, "recovery") == 0 && argc <= 4) ||
	    (strcmp(cmd, "lockdown") == 0 && argc <= 2)) {
		/* the monitor checks the words and says what is wrong */
		n = snprintf(buf, len, "%s", cmd);
		for (i = 1; i < argc && n > 0 && (size_t)n < len; i++) {
			if (!word_ok(argv[i]))
				return -1;
			n += snprintf(buf + n, len - n, " %s", argv[i]);
		}
		if (n > 0 && (size_t)n < len)
			n += snprintf(buf + n, len - n, "\n");
	} else
		return -1;
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	const char		*path = PKSCTL_SOCKET;
	char			 req[256], buf[4096];
	ssize_t			 n;
	int			 ch, fd, failed = 0, first = 1;

	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || build_request(argc, argv, req, sizeof(req)) == -1)
		usage();

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "pksctl: %s: path too long\n", path);
		exit(1);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		perror("pksctl: socket");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "pksctl: %s: %s (is pks-monitor running? "
		    "are you root?)\n", path, strerror(errno));
		exit(1);
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("pksctl: write");
		exit(1);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && strncmp(buf, "error:", 6) == 0)
			failed = 1;
		first = 0;
		fwrite(buf, 1, n, failed ? stderr : stdout);
	}
	if (n == -1) {
		perror("pksctl: read");
		exit(1);
	}
	close(fd);
	return failed;
}
