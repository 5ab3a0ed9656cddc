// SPDX-License-Identifier: Apache-2.0
/*
 * sink_lines.c - whole JSON lines or nothing (struct line_out, sink.h).
 *
 * A write that fails part-way (ENOSPC, EDQUOT, EFBIG, EIO) leaves the
 * start of a line in the file; the next record would be glued to it
 * ({"type":"bl{"schema":...), and a log shipper would lose both. So the
 * end of a regular file is noted before each line, and a failed line is
 * cut off again with ftruncate. Where that cannot be done (a pipe, or
 * ftruncate fails too) the next line starts with '\n': the fragment stays a
 * line of its own and every complete record still parses.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sink.h"

int sink_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

void line_out_init(struct line_out *lo, const char *what)
{
	memset(lo, 0, sizeof(*lo));
	lo->fd = -1;
	lo->what = what;
}

void line_out_set_fd(struct line_out *lo, int fd)
{
	struct stat st;

	lo->fd = fd;
	lo->mid_line = false; /* a fragment in the previous file stays there */
	lo->seekable = fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode);
}

/* Write all of buf, adding what was written to *done. 0 or -errno. */
static int write_counted(int fd, const char *buf, size_t len, size_t *done)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		*done += (size_t)n;
	}
	return 0;
}

/*
 * Cut a failed line off a regular file: back to start, but only if the file
 * ends where this line's bytes end (nobody else wrote after them, e.g. a
 * shared stderr). True if the file is as it was before the line.
 */
static bool cut_back(struct line_out *lo, off_t start, size_t written, bool append)
{
	off_t end;

	if (!written)
		return true;
	end = lseek(lo->fd, 0, SEEK_END);
	if (end != start + (off_t)written || ftruncate(lo->fd, start))
		return false;
	if (!append)
		lseek(lo->fd, start, SEEK_SET);
	return true;
}

int line_out_write(struct line_out *lo, const char *line, size_t len)
{
	bool append = false;
	off_t start = -1;
	size_t written = 0;
	int err, flags;

	if (lo->fd < 0)
		return -EBADF;
	if (lo->seekable) {
		flags = fcntl(lo->fd, F_GETFL);
		append = flags >= 0 && (flags & O_APPEND);
		start = lseek(lo->fd, 0, append ? SEEK_END : SEEK_CUR);
	}
	err = lo->mid_line ? write_counted(lo->fd, "\n", 1, &written) : 0;
	if (!err)
		err = write_counted(lo->fd, line, len, &written);
	if (!err) {
		lo->mid_line = false;
		if (lo->failing) {
			lo->failing = false;
			log_warn("writing to %s again; %llu records could not be written so far",
				 lo->what, (unsigned long long)lo->dropped);
		}
		return 0;
	}

	lo->dropped++;
	if (!(start >= 0 && cut_back(lo, start, written, append)) && written)
		lo->mid_line = true;
	if (!lo->failing) {
		lo->failing = true;
		log_error("cannot write to %s: %s; records are dropped (and counted in the summary) until it works again",
			  lo->what, strerror(-err));
	}
	return err;
}
