/*
 * imsg.c: framed messages over a socketpair.
 *
 * The receiver trusts nothing: a header whose length is shorter than the
 * header, longer than the limit, or whose type is unknown, makes
 * imsg_get() fail with EBADMSG, and the caller treats the peer as
 * compromised.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "pks.h"

struct imsg_wmsg {
	struct imsg_wmsg	*next;
	size_t			 len;
	size_t			 off;	/* bytes already written */
	int			 fd;	/* sent with the first byte, -1 none */
	uint8_t			 buf[];
};

void
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	ib->fd = fd;
	ib->pid = getpid();
	ib->nrfds = 0;
}

void
imsgbuf_clear(struct imsgbuf *ib)
{
	struct imsg_wmsg	*w, *n;
	int			 i;

	for (w = ib->whead; w != NULL; w = n) {
		n = w->next;
		if (w->fd != -1)
			close(w->fd);
		free(w);
	}
	ib->whead = ib->wtail = NULL;
	ib->wqueued = 0;
	for (i = 0; i < ib->nrfds; i++)
		close(ib->rfds[i]);
	ib->nrfds = 0;
	ib->rlen = 0;
}

/* keep the descriptors that came with msg (beyond IMSG_MAX_FDS: closed) */
static void
imsg_take_fds(struct imsgbuf *ib, struct msghdr *msg)
{
	struct cmsghdr	*cmsg;
	size_t		 nfds, i;
	int		 fd;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, (int *)CMSG_DATA(cmsg) + i, sizeof(fd));
			if (ib->nrfds < IMSG_MAX_FDS)
				ib->rfds[ib->nrfds++] = fd;
			else
				close(fd);
		}
	}
}

/*
 * Read what is available.  Returns bytes read, 0 on EOF, -1 on error
 * (errno EAGAIN when nothing was there).
 */
ssize_t
imsgbuf_read(struct imsgbuf *ib)
{
	struct msghdr		 msg;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_MAX_FDS)];
	} cmsgbuf;
	ssize_t			 n;

	if (ib->rlen >= sizeof(ib->rbuf)) {
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ib->rbuf + ib->rlen;
	iov.iov_len = sizeof(ib->rbuf) - ib->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	imsg_take_fds(ib, &msg);
	if (msg.msg_flags & MSG_CTRUNC) {
		errno = EBADMSG;
		return -1;
	}
	ib->rlen += n;
	return n;
}

/*
 * Blocking: read exactly one message, no byte more, so that what
 * follows it stays in the socket (and wakes the next poll()).  For the
 * configuration phase of a child, whose descriptor is still blocking.
 * Returns 1, 0 on EOF, -1 on error (EBADMSG: not a message).
 */
int
imsgbuf_read_one(struct imsgbuf *ib)
{
	struct msghdr		 msg;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_MAX_FDS)];
	} cmsgbuf;
	struct imsg_hdr		 hdr;
	size_t			 want, got;
	ssize_t			 n;

	if (ib->rlen + IMSG_MAX_SIZE > sizeof(ib->rbuf)) {
		errno = ENOBUFS;
		return -1;
	}
	for (want = IMSG_HEADER_SIZE, got = 0; got < want; got += n) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = ib->rbuf + ib->rlen + got;
		iov.iov_len = want - got;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return n == 0 && got == 0 ? 0 : -1;
		imsg_take_fds(ib, &msg);
		if (got + n == IMSG_HEADER_SIZE && want == IMSG_HEADER_SIZE) {
			memcpy(&hdr, ib->rbuf + ib->rlen, sizeof(hdr));
			if (hdr.len < IMSG_HEADER_SIZE ||
			    hdr.len > IMSG_MAX_SIZE) {
				errno = EBADMSG;
				return -1;
			}
			want = hdr.len;
		}
	}
	ib->rlen += want;
	return 1;
}

/*
 * Take the next complete message out of the read buffer.  Returns 1 and
 * fills *im, 0 if more bytes are needed, -1 (errno EBADMSG) if what was
 * received cannot be a message.  The payload is copied: call imsg_free().
 */
int
imsg_get(struct imsgbuf *ib, struct imsg *im)
{
	struct imsg_hdr	 hdr;
	size_t		 plen;

	memset(im, 0, sizeof(*im));
	im->fd = -1;
	if (ib->rlen < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ib->rbuf, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > IMSG_MAX_SIZE ||
	    hdr.type == IMSG_NONE || hdr.type >= IMSG_MAX) {
		errno = EBADMSG;
		return -1;
	}
	if (ib->rlen < hdr.len)
		return 0;
	plen = hdr.len - IMSG_HEADER_SIZE;
	if (plen > 0) {
		if ((im->data = malloc(plen)) == NULL)
			return -1;
		memcpy(im->data, ib->rbuf + IMSG_HEADER_SIZE, plen);
	}
	im->hdr = hdr;
	im->len = plen;
	/* a descriptor travels with the message whose flag asks for it */
	if (hdr.peerid & 0x80000000U) {
		im->hdr.peerid &= ~0x80000000U;
		if (ib->nrfds == 0) {
			free(im->data);
			im->data = NULL;
			errno = EBADMSG;
			return -1;
		}
		im->fd = ib->rfds[0];
		memmove(ib->rfds, ib->rfds + 1,
		    (ib->nrfds - 1) * sizeof(int));
		ib->nrfds--;
	}
	memmove(ib->rbuf, ib->rbuf + hdr.len, ib->rlen - hdr.len);
	ib->rlen -= hdr.len;
	return 1;
}

void
imsg_free(struct imsg *im)
{
	free(im->data);
	im->data = NULL;
	im->len = 0;
}

int
imsg_composev(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const struct iovec *iov, int iovcnt)
{
	struct imsg_wmsg	*w;
	struct imsg_hdr		 hdr;
	size_t			 len = 0, off;
	int			 i;

	if (type == IMSG_NONE || type >= IMSG_MAX ||
	    (peerid & 0x80000000U)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > IMSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	if (ib->wqueued + len + IMSG_HEADER_SIZE > IMSG_MAX_QUEUED) {
		errno = ENOBUFS;
		return -1;
	}
	if ((w = malloc(sizeof(*w) + IMSG_HEADER_SIZE + len)) == NULL)
		return -1;
	hdr.type = type;
	hdr.len = IMSG_HEADER_SIZE + len;
	hdr.peerid = peerid | (fd != -1 ? 0x80000000U : 0);
	hdr.pid = ib->pid;
	memcpy(w->buf, &hdr, sizeof(hdr));
	off = IMSG_HEADER_SIZE;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0)
			memcpy(w->buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	w->len = off;
	w->off = 0;
	w->fd = fd;
	w->next = NULL;
	if (ib->wtail)
		ib->wtail->next = w;
	else
		ib->whead = w;
	ib->wtail = w;
	ib->wqueued += w->len;
	return 0;
}

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)data;
	iov.iov_len = len;
	return imsg_composev(ib, type, peerid, fd, &iov, data ? 1 : 0);
}

/*
 * Write what the socket takes.  Returns 0 when everything queued went
 * out, 1 when some is still queued (EAGAIN), -1 on error.  A passed fd
 * is closed here once sent.
 */
int
imsgbuf_write(struct imsgbuf *ib)
{
	struct imsg_wmsg	*w;
	struct msghdr		 msg;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr		*cmsg;
	ssize_t			 n;

	while ((w = ib->whead) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = w->buf + w->off;
		iov.iov_len = w->len - w->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (w->fd != -1 && w->off == 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &w->fd, sizeof(int));
		}
		n = sendmsg(ib->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		if (w->fd != -1) {
			close(w->fd);
			w->fd = -1;
		}
		w->off += n;
		ib->wqueued -= n;
		if (w->off < w->len)
			continue;
		ib->whead = w->next;
		if (ib->whead == NULL)
			ib->wtail = NULL;
		free(w);
	}
	return 0;
}

int
imsgbuf_pending(const struct imsgbuf *ib)
{
	return ib->whead != NULL;
}

/* Write everything, waiting for the socket when it is full. */
int
imsgbuf_flush(struct imsgbuf *ib)
{
	struct pollfd	pfd;
	int		r;

	while ((r = imsgbuf_write(ib)) == 1) {
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return r;
}
