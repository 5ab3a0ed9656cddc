/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http.h - /metrics and /healthz over HTTP, for the agent and the
 * command line's --metrics-addr, served by libmicrohttpd in its "external
 * epoll" mode: MHD's own epoll fd joins the engine's epoll set
 * (engine_add_fd) and MHD_run() is called when it is readable, so the
 * server runs on the run's one thread and reads the counters without
 * locks. GET and HEAD only; anything else is 405, other paths 404.
 */
#ifndef BLOCKSNOOP_METRICS_HTTP_H
#define BLOCKSNOOP_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct metrics_http_handlers {
	/* The /metrics body (Prometheus text), malloc'd; the server frees
	 * it. NULL when out of memory (answered with 500). */
	char *(*metrics)(void *ctx, size_t *len);
	/* The /healthz body into buf (NUL-terminated); returns the HTTP
	 * status (200 when healthy, 503 when not). */
	int (*health)(void *ctx, char *buf, size_t len);
	void *ctx;
};

struct metrics_http;

/*
 * Load libmicrohttpd (agent/dynlib.h: by its soname, once per process; the
 * binary does not link it, so a run without a metrics server never maps
 * it). metrics_http_start() calls it; doctor too. 0, or -ENOENT with a
 * one-line reason in err naming the package.
 */
int metrics_http_load_libmicrohttpd(char *err, size_t errlen);

/*
 * Listen on addr (an in6addr_any address listens on IPv6 and IPv4, or on
 * IPv4 alone where IPv6 is unavailable). h is copied; its ctx must outlive
 * the server. Returns 0 and *out, or -errno with a one-line reason in err
 * (e.g. the port is taken; -ENOENT: libmicrohttpd cannot be loaded).
 */
int metrics_http_start(const struct sockaddr *addr, socklen_t addrlen,
		       const struct metrics_http_handlers *h, struct metrics_http **out,
		       char *err, size_t errlen);

/* The fd to wait on for readability; fixed for the server's life. */
int metrics_http_fd(const struct metrics_http *s);

/* Serve what is ready. Never blocks. */
void metrics_http_run(struct metrics_http *s);

/* How soon metrics_http_run() must be called even without activity, in
 * ms; -1 for no limit. */
long metrics_http_timeout_ms(struct metrics_http *s);

/* The port it listens on (useful with port 0). */
int metrics_http_port(const struct metrics_http *s);

/* Serve from e's loop (engine_add_fd): 0 or -errno. Stop the server
 * only after engine_free(e). */
struct engine;
int metrics_http_join(struct metrics_http *s, struct engine *e);

/* Close every connection and the listening socket. Accepts NULL. */
void metrics_http_stop(struct metrics_http *s);

#endif
