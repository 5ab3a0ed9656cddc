// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "dynlib.h"
#include "engine.h"
#include "log.h"
#include "metrics_http.h"

/* Every libmicrohttpd function this file calls, as libmhd.<name without
 * MHD_>, typed by microhttpd.h's own prototypes. */
#define LIBMHD_FUNCTIONS(X) \
	X(start_daemon) X(stop_daemon) X(run) X(get_timeout) X(get_daemon_info) \
	X(create_response_from_buffer) X(add_response_header) X(queue_response) \
	X(destroy_response)

static struct {
#define LIBMHD_SLOT(name) __typeof__(MHD_##name) *name;
	LIBMHD_FUNCTIONS(LIBMHD_SLOT)
} libmhd;

int metrics_http_load_libmicrohttpd(char *err, size_t errlen)
{
	static const struct dynlib_symbol symbols[] = {
#define LIBMHD_SYMBOL(name) { "MHD_" #name, &libmhd.name },
		LIBMHD_FUNCTIONS(LIBMHD_SYMBOL)
	};
	static const struct dynlib lib = {
		.soname = BLOCKSNOOP_MHD_SONAME,
		.package = BLOCKSNOOP_MHD_PACKAGE,
		.symbols = symbols,
		.count = sizeof(symbols) / sizeof(symbols[0]),
	};

	/* Called once per kubelet client or server started: a second load
	 * only counts a reference and looks the symbols up again. */
	return dynlib_load(&lib, err, errlen);
}

#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *daemon;
	struct metrics_http_handlers h;
	int epfd;
	int port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("metrics server: %s", buf);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len, bool must_free)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = must_free ? libmhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
		      : libmhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	libmhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	libmhd.add_response_header(r, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		libmhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = libmhd.queue_response(c, status, r);
	libmhd.destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct metrics_http *s = cls;
	char text[512];

	(void)version; (void)upload_data;
	/* A request body (which nobody should send) is consumed unread. */
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		snprintf(text, sizeof(text), "method not allowed: use GET\n");
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", text, strlen(text), false);
	}
	if (!strcmp(url, "/metrics")) {
		size_t len = 0;
		char *body = s->h.metrics(s->h.ctx, &len);

		if (!body) {
			snprintf(text, sizeof(text), "out of memory\n");
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", text,
				     strlen(text), false);
		}
		return reply(c, MHD_HTTP_OK, PROMETHEUS_TEXT, body, len, true);
	}
	if (!strcmp(url, "/healthz")) {
		int status = s->h.health(s->h.ctx, text, sizeof(text));

		return reply(c, (unsigned)status, "text/plain; charset=utf-8", text, strlen(text),
			     false);
	}
	snprintf(text, sizeof(text), "not found: blocksnoop serves /metrics and /healthz\n");
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", text, strlen(text), false);
}

static struct MHD_Daemon *start(struct metrics_http *s, unsigned flags,
				const struct sockaddr *addr)
{
	return libmhd.start_daemon(flags | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)8,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_END);
}

int metrics_http_start(const struct sockaddr *addr, socklen_t addrlen,
		       const struct metrics_http_handlers *h, struct metrics_http **out,
		       char *err, size_t errlen)
{
	struct metrics_http *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	int saved;

	(void)addrlen;
	*out = NULL;
	saved = metrics_http_load_libmicrohttpd(err, errlen);
	if (saved) {
		free(s);
		return saved;
	}
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->h = *h;
	errno = 0;
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
		bool any = !memcmp(&a6->sin6_addr, &in6addr_any, sizeof(in6addr_any));

		s->daemon = start(s, any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6, addr);
		if (!s->daemon && any && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			/* No IPv6 on this host: every IPv4 address, same port. */
			struct sockaddr_in a4 = {
				.sin_family = AF_INET,
				.sin_port = a6->sin6_port,
				.sin_addr.s_addr = htonl(INADDR_ANY),
			};

			errno = 0;
			s->daemon = start(s, 0, (const struct sockaddr *)&a4);
		}
	} else {
		s->daemon = start(s, 0, addr);
	}
	if (!s->daemon) {
		saved = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "%s", strerror(saved));
		free(s);
		return -saved;
	}
	info = libmhd.get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	s->epfd = info ? info->epoll_fd : -1;
	info = libmhd.get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	if (s->epfd < 0) {
		snprintf(err, errlen, "libmicrohttpd has no epoll fd");
		metrics_http_stop(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

int metrics_http_fd(const struct metrics_http *s)
{
	return s->epfd;
}

void metrics_http_run(struct metrics_http *s)
{
	libmhd.run(s->daemon);
}

long metrics_http_timeout_ms(struct metrics_http *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (libmhd.get_timeout(s->daemon, &ms) != MHD_YES)
		return -1;
	return ms > 60000 ? 60000 : (long)ms;
}

static void serve_ready(void *ctx)
{
	metrics_http_run(ctx);
}

static long serve_timeout_ms(void *ctx)
{
	return metrics_http_timeout_ms(ctx);
}

int metrics_http_join(struct metrics_http *s, struct engine *e)
{
	return engine_add_fd(e, s->epfd, serve_ready, serve_timeout_ms, s);
}

int metrics_http_port(const struct metrics_http *s)
{
	return s->port;
}

void metrics_http_stop(struct metrics_http *s)
{
	if (!s)
		return;
	if (s->daemon)
		libmhd.stop_daemon(s->daemon);
	free(s);
}
