/*
 * imsg.h: framed messages over a socketpair, in the style of OpenBSD's
 * imsg(3).  A message is a fixed header and up to IMSG_MAX_PAYLOAD bytes
 * of payload, with at most one file descriptor passed alongside it.
 * Reads and writes are non-blocking and buffered.
 */
#ifndef PKS_IMSG_H
#define PKS_IMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct imsg_hdr {
	uint32_t	type;		/* enum imsg_type */
	uint32_t	len;		/* header + payload, bytes */
	uint32_t	peerid;
	uint32_t	pid;
};

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_PAYLOAD	16384
#define IMSG_MAX_SIZE		(IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD)
#define IMSG_RBUF_SIZE		(4 * IMSG_MAX_SIZE)
#define IMSG_MAX_FDS		8	/* received fds held at once */
#define IMSG_MAX_QUEUED		(4 * 1024 * 1024) /* bytes queued to write */

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none */
	size_t		 len;		/* payload bytes */
	void		*data;		/* payload, NULL if len == 0 */
};

struct imsg_wmsg;

struct imsgbuf {
	int			 fd;
	pid_t			 pid;
	uint8_t			 rbuf[IMSG_RBUF_SIZE];
	size_t			 rlen;
	int			 rfds[IMSG_MAX_FDS];
	int			 nrfds;
	struct imsg_wmsg	*whead;
	struct imsg_wmsg	*wtail;
	size_t			 wqueued;	/* bytes waiting */
};

/* imsg.c */
void	 imsgbuf_init(struct imsgbuf *, int);
void	 imsgbuf_clear(struct imsgbuf *);
ssize_t	 imsgbuf_read(struct imsgbuf *);
int	 imsgbuf_read_one(struct imsgbuf *);
int	 imsg_get(struct imsgbuf *, struct imsg *);
void	 imsg_free(struct imsg *);
int	 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, int,
	    const void *, size_t);
int	 imsg_composev(struct imsgbuf *, uint32_t, uint32_t, int,
	    const struct iovec *, int);
int	 imsgbuf_write(struct imsgbuf *);
int	 imsgbuf_flush(struct imsgbuf *);
int	 imsgbuf_pending(const struct imsgbuf *);

#endif /* PKS_IMSG_H */
