/*
 * failmalloc.c: an LD_PRELOAD shim that makes malloc(3), calloc(3) and
 * realloc(3) fail on demand, for t_fault_alloc.py.
 *
 * Nothing fails while the file named by FAILMALLOC_TRIGGER is absent, so
 * the process starts normally.  While it exists, every N-th call returns
 * NULL with errno ENOMEM, N being the number the file holds (1, all, if
 * it holds none), counted from the trigger's creation.  Each failure
 * appends one line to FAILMALLOC_LOG: the function and the size asked.
 * Only system calls are used on the way (no stdio, no malloc), so the
 * shim cannot recurse into itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);

static const char	*trigger;
static const char	*logpath;
static unsigned long	 calls;		/* while triggered */
static int		 armed;

__attribute__((constructor)) static void
fm_init(void)
{
	trigger = getenv("FAILMALLOC_TRIGGER");
	logpath = getenv("FAILMALLOC_LOG");
	armed = trigger != NULL;
}

static void
fm_note(const char *fn, size_t n)
{
	char		 buf[64], num[24];
	size_t		 len, i = sizeof(num);
	int		 fd;

	if (logpath == NULL ||
	    (fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1)
		return;
	do {
		num[--i] = '0' + n % 10;
		n /= 10;
	} while (n > 0 && i > 0);
	len = strlen(fn);
	memcpy(buf, fn, len);
	buf[len++] = ' ';
	memcpy(buf + len, num + i, sizeof(num) - i);
	len += sizeof(num) - i;
	buf[len++] = '\n';
	(void)write(fd, buf, len);
	close(fd);
}

/* N from the trigger file; 0 if there is no trigger */
static unsigned long
fm_every(void)
{
	char		 buf[16];
	ssize_t		 len, i;
	unsigned long	 n = 0;
	int		 fd;

	if ((fd = open(trigger, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	len = read(fd, buf, sizeof(buf));
	close(fd);
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		n = n * 10 + (buf[i] - '0');
	return n > 0 ? n : 1;
}

/* should this call fail?  errno is left alone unless it does */
static int
fm_fail(const char *fn, size_t n)
{
	unsigned long	every;
	int		saved = errno;

	if (!armed)
		return 0;
	every = fm_every();
	errno = saved;
	if (every == 0) {
		calls = 0;
		return 0;
	}
	if (++calls % every != 0)
		return 0;
	fm_note(fn, n);
	errno = ENOMEM;
	return 1;
}

void *
malloc(size_t n)
{
	if (fm_fail("malloc", n))
		return NULL;
	return __libc_malloc(n);
}

void *
calloc(size_t nmemb, size_t size)
{
	if (fm_fail("calloc", nmemb * size))
		return NULL;
	return __libc_calloc(nmemb, size);
}

void *
realloc(void *p, size_t n)
{
	if (fm_fail("realloc", n))
		return NULL;
	return __libc_realloc(p, n);
}
