/*
 * replay.c: main() for a fuzz target built without libFuzzer.  Every
 * file of every directory named on the command line (or every file
 * named) goes once through LLVMFuzzerTestOneInput(), so the seed
 * corpora and the kept crash inputs run in `make check`, under the
 * test build's own flags (and under ASan with `make check-asan`, or
 * under valgrind).  A crash is the target's abort() or a sanitizer
 * report; the file being replayed is printed first, so the culprit
 * is named.
 *
 *	build/test/tests/fuzz_replay_imsg tests/fuzz/corpus/imsg \
 *	    tests/fuzz/regressions/imsg
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static FILE	*out;

static int
replay_file(const char *path)
{
	struct stat	 st;
	uint8_t		*buf;
	FILE		*f;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(out, "%s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* exactly the input's size: a read past its end is caught */
	if ((buf = malloc(st.st_size > 0 ? st.st_size : 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, st.st_size, f);
	fclose(f);
	if (n != (size_t)st.st_size) {
		fprintf(out, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	fprintf(out, "replay %s (%zu bytes)\n", path, n);
	fflush(out);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay a directory's regular files, in name order; READMEs are not
 * inputs.  Returns how many were replayed, -1 on error. */
static int
replay_dir(const char *dir)
{
	struct dirent	 *de;
	struct stat	  st;
	DIR		 *d;
	char		**names = NULL, path[4096];
	size_t		  n = 0, cap = 0, i;
	int		  count = 0, err = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(out, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0)
			continue;
		if (n == cap) {
			char	**nn;

			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL)
				abort();
			names = nn;
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof(*names), namecmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				err = 1;
			else
				count++;
		}
		free(names[i]);
	}
	free(names);
	return err ? -1 : count;
}

int
main(int argc, char *argv[])
{
	struct stat	st;
	int		i, r, total = 0, err = 0;

	/* a target may silence stdio's stderr: keep our own copy */
	if ((out = fdopen(dup(STDERR_FILENO), "w")) == NULL)
		out = stdout;
	if (argc < 2) {
		fprintf(out, "usage: %s dir|file ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(out, "%s: %s\n", argv[i], strerror(errno));
			err = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			r = replay_dir(argv[i]);
		else
			r = replay_file(argv[i]) == 0 ? 1 : -1;
		if (r == -1)
			err = 1;
		else
			total += r;
	}
	fprintf(out, "%d input%s replayed\n", total, total == 1 ? "" : "s");
	fflush(out);
	return err ? 1 : 0;
}
