/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/kubelet.h - GET /pods from the kubelet with libcurl, without ever
 * blocking the agent's event loop: the transfer runs on curl's multi
 * interface, whose sockets and timer live in an epoll set of our own
 * exposed as one fd (kubelet_fd) for the agent's epoll, like the sampler's.
 *
 * HTTPS only: the URL must be https:// and libcurl may use no other
 * protocol; redirects are never followed (a 30x is a failed poll that names
 * where it pointed), so the token reaches the kubelet and nothing else.
 * TLS: the certificate is verified against ca_file (or the system's CAs)
 * and for the URL's host name, also when host_ip says where to connect
 * (CURLOPT_CONNECT_TO), unless insecure. The bearer token is read from
 * token_file before each poll, and again on a 401: if it changed, the
 * request is retried once at once (service-account tokens are rotated on
 * disk). Proxies from the environment are ignored: the kubelet is local.
 */
#ifndef BLOCKSNOOP_K8S_KUBELET_H
#define BLOCKSNOOP_K8S_KUBELET_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s/metrics.h"

/* Answers larger than this are refused (a node's pods are a few MB). */
#define KUBELET_MAX_BODY (64u << 20)

struct kubelet_config {
	const char *url;         /* base URL, https:// only, e.g. "https://node-1:10250"; /pods is appended */
	const char *host_ip;     /* NULL: connect to the URL's host */
	const char *token_file;  /* NULL: send no Authorization header */
	const char *ca_file;     /* NULL: the system's CA bundle */
	bool insecure;           /* do not verify the certificate */
	long timeout_ms;         /* the whole transfer */
	const char *user_agent;
};

/* The outcome of one poll. */
struct kubelet_result {
	bool ok;                        /* HTTP 200 with a body */
	enum kubelet_error_reason reason; /* when !ok */
	long http_status;               /* 0 if no HTTP answer */
	const char *body;               /* ok: the answer (not NUL-terminated) */
	size_t len;
	/* !ok: one line saying what failed and what to do; never holds the token. */
	const char *message;
	double seconds;                 /* how long the poll took */
};

struct kubelet;

/*
 * Load libcurl (agent/dynlib.h: by its soname, once per process; the
 * binary does not link it, so a run that never polls a kubelet never maps
 * it). kubelet_new() calls it; doctor too, to tell whether agent mode can
 * run. 0, or -ENOENT with a one-line reason in err naming the package.
 */
int kubelet_load_libcurl(char *err, size_t errlen);

/*
 * Set up a client (no connection is made yet). c's strings are copied.
 * Returns 0 and *out (free with kubelet_free), or -errno with a one-line
 * reason in err: -EINVAL for a URL that is not https://, -ENOENT when
 * libcurl cannot be loaded (kubelet_load_libcurl()), -ENOTSUP when
 * libcurl cannot be restricted to verified HTTPS.
 */
int kubelet_new(const struct kubelet_config *c, struct kubelet **out, char *err, size_t errlen);

/* Abort any transfer and free everything. Accepts NULL. */
void kubelet_free(struct kubelet *k);

/* An fd, fixed for the client's life, that is readable when
 * kubelet_ready() has work to do. */
int kubelet_fd(const struct kubelet *k);

/* Start a GET /pods. -EBUSY if one is in progress; -errno on failure to
 * start (nothing is then in progress and no result will come). */
int kubelet_poll(struct kubelet *k);

typedef void (*kubelet_done_fn)(void *ctx, const struct kubelet_result *r);

/*
 * kubelet_fd() is readable: move the transfer on. When a poll ends, fn is
 * called once with its result (valid only during the call). Never blocks.
 */
void kubelet_ready(struct kubelet *k, kubelet_done_fn fn, void *ctx);

/*
 * Pure. The delay before the next poll, in ms: interval_ms after a success
 * (failures == 0), else interval_ms doubled per consecutive failure up to
 * 8 times interval_ms; then jittered by r in [0, 1): +-10% after a
 * success, down to half after a failure, so agents on many nodes do not
 * hammer a recovering kubelet in step.
 */
long kubelet_next_delay_ms(long interval_ms, unsigned failures, double r);

#endif
