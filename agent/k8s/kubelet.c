// SPDX-License-Identifier: Apache-2.0
/*
 * kubelet.c - the kubelet client: one GET /pods at a time on libcurl's
 * multi interface, driven from the agent's event loop.
 *
 * curl tells us which sockets to wait on (CURLMOPT_SOCKETFUNCTION) and
 * when to call it back (CURLMOPT_TIMERFUNCTION); both go into a private
 * epoll set (sockets) and a timerfd in it, so the agent waits on one fd.
 * This is libcurl's documented event-driven mode (its ephiperfifo.c
 * example), and it keeps the agent single-threaded: nothing here runs
 * while the agent handles events, and nothing blocks it either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dynlib.h"
#include "k8s/kubelet.h"
#include "timeutil.h"

/* ---- libcurl, loaded by the first kubelet_new() --------------------------- */

/* Every libcurl function this file calls, as libcurl.<name without curl_>,
 * typed by curl.h's own prototypes. */
#define LIBCURL_FUNCTIONS(X) \
	X(global_init) X(global_cleanup) X(version) \
	X(easy_init) X(easy_setopt) X(easy_getinfo) X(easy_strerror) X(easy_cleanup) \
	X(multi_init) X(multi_setopt) X(multi_add_handle) X(multi_remove_handle) \
	X(multi_socket_action) X(multi_info_read) X(multi_cleanup) \
	X(slist_append) X(slist_free_all)

static struct {
#define LIBCURL_SLOT(name) __typeof__(curl_##name) *name;
	LIBCURL_FUNCTIONS(LIBCURL_SLOT)
} libcurl;

int kubelet_load_libcurl(char *err, size_t errlen)
{
	static const struct dynlib_symbol symbols[] = {
#define LIBCURL_SYMBOL(name) { "curl_" #name, &libcurl.name },
		LIBCURL_FUNCTIONS(LIBCURL_SYMBOL)
	};
	static const struct dynlib lib = {
		.soname = BLOCKSNOOP_CURL_SONAME,
		.package = BLOCKSNOOP_CURL_PACKAGE,
		.symbols = symbols,
		.count = sizeof(symbols) / sizeof(symbols[0]),
	};

	/* Called once per kubelet client or server started: a second load
	 * only counts a reference and looks the symbols up again. */
	return dynlib_load(&lib, err, errlen);
}

/* A token file larger than this is not a token. */
#define TOKEN_MAX 65536

struct kubelet {
	CURLM *multi;
	CURL *easy;            /* reused across polls: keeps the TLS connection */
	int epfd, timerfd;
	char *url;             /* .../pods */
	char *base_url;
	char *token_file, *ca_file, *host_ip, *user_agent;
	bool insecure;
	long timeout_ms;
	struct curl_slist *connect_to;
	struct curl_slist *headers;   /* of the poll in progress */
	char *token;           /* the token that poll sent; wiped when freed */
	bool busy;
	bool retried_401;      /* this poll already retried with a new token */
	/* A poll that failed before any transfer (unreadable token): reported
	 * from kubelet_ready() like any other result. */
	bool pending_failure;
	enum kubelet_error_reason pending_reason;
	char *body;
	size_t len, cap;
	bool too_large;
	uint64_t started_ns;
	char errbuf[CURL_ERROR_SIZE];
	char message[1536];
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

long kubelet_next_delay_ms(long interval_ms, unsigned failures, double r)
{
	double d;

	if (r < 0)
		r = 0;
	if (r >= 1)
		r = 0.999999;
	if (failures == 0) {
		d = interval_ms * (0.9 + 0.2 * r);
	} else {
		unsigned shift = failures - 1 < 3 ? failures - 1 : 3;

		d = (double)interval_ms * (double)(1u << shift);
		d *= 0.5 + 0.5 * r;
	}
	return d < 1 ? 1 : (long)d;
}

/* ---- curl's callbacks ----------------------------------------------------- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kubelet *k = userp;
	struct epoll_event ev = { .data.fd = s };

	(void)easy; (void)socketp;
	if (what == CURL_POLL_REMOVE) {
		/* curl may have closed it already: EBADF is fine. */
		epoll_ctl(k->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(k->epfd, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
		epoll_ctl(k->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static void arm_timer(struct kubelet *k, long timeout_ms)
{
	struct itimerspec its = { 0 };

	if (timeout_ms > 0) {
		its.it_value.tv_sec = timeout_ms / 1000;
		its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L;
	} else if (timeout_ms == 0) {
		its.it_value.tv_nsec = 1; /* at once */
	} /* < 0: disarm */
	timerfd_settime(k->timerfd, 0, &its, NULL);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	arm_timer(userp, timeout_ms);
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct kubelet *k = userp;
	size_t n = size * nmemb;

	if (k->len + n > KUBELET_MAX_BODY) {
		k->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap : 65536;
		char *bigger;

		while (cap < k->len + n)
			cap *= 2;
		bigger = realloc(k->body, cap);
		if (!bigger)
			return 0;
		k->body = bigger;
		k->cap = cap;
	}
	memcpy(k->body + k->len, data, n);
	k->len += n;
	return n;
}

/* ---- set-up ------------------------------------------------------------------ */

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int kubelet_new(const struct kubelet_config *c, struct kubelet **out, char *err, size_t errlen)
{
	struct kubelet *k = calloc(1, sizeof(*k));
	struct epoll_event ev = { .events = EPOLLIN };
	bool oom = false;
	size_t ulen;
	int ret;

	*out = NULL;
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!c->url || strncasecmp(c->url, "https://", 8)) {
		snprintf(err, errlen, "the kubelet URL must be https:// (the bearer token is never sent in clear)");
		free(k);
		return -EINVAL;
	}
	ret = kubelet_load_libcurl(err, errlen);
	if (ret) {
		free(k);
		return ret;
	}
	k->epfd = k->timerfd = -1;
	if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(k);
		return -EIO;
	}
	k->insecure = c->insecure;
	k->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
	k->base_url = dup_opt(c->url, &oom);
	k->token_file = dup_opt(c->token_file, &oom);
	k->ca_file = dup_opt(c->ca_file, &oom);
	k->host_ip = dup_opt(c->host_ip, &oom);
	k->user_agent = dup_opt(c->user_agent ? c->user_agent : "blocksnoop", &oom);
	ulen = c->url ? strlen(c->url) : 0;
	k->url = malloc(ulen + sizeof("/pods"));
	if (oom || !k->url) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	/* "https://node:10250" and "https://node:10250/" both mean .../pods. */
	memcpy(k->url, c->url, ulen + 1);
	while (ulen && k->url[ulen - 1] == '/')
		k->url[--ulen] = '\0';
	strcat(k->url, "/pods");

	if (k->host_ip) {
		/* "::IP:": any host and port of the URL, dialled at IP on the
		 * same port; TLS still verifies the URL's host name. */
		char rule[128];
		bool v6 = strchr(k->host_ip, ':') != NULL;

		snprintf(rule, sizeof(rule), "::%s%s%s:", v6 ? "[" : "", k->host_ip, v6 ? "]" : "");
		k->connect_to = libcurl.slist_append(NULL, rule);
		if (!k->connect_to) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
	}

	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	k->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ev.data.fd = k->timerfd;
	if (k->epfd < 0 || k->timerfd < 0 || epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->timerfd, &ev)) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the kubelet client's event loop: %s", strerror(errno));
		goto fail;
	}
	k->multi = libcurl.multi_init();
	k->easy = libcurl.easy_init();
	if (!k->multi || !k->easy) {
		snprintf(err, errlen, "cannot initialise libcurl");
		ret = -ENOMEM;
		goto fail;
	}
	libcurl.multi_setopt(k->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	libcurl.multi_setopt(k->multi, CURLMOPT_SOCKETDATA, k);
	libcurl.multi_setopt(k->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	libcurl.multi_setopt(k->multi, CURLMOPT_TIMERDATA, k);

	/* The token must reach the kubelet and nothing else: HTTPS only,
	 * redirects never followed (and, were they ever, HTTPS only and
	 * without the Authorization header for another host), and TLS
	 * verification set explicitly, failing if libcurl refuses it. */
	if (libcurl.easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    libcurl.easy_setopt(k->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    libcurl.easy_setopt(k->easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    libcurl.easy_setopt(k->easy, CURLOPT_UNRESTRICTED_AUTH, 0L) != CURLE_OK ||
	    libcurl.easy_setopt(k->easy, CURLOPT_SSL_VERIFYPEER, k->insecure ? 0L : 1L) != CURLE_OK ||
	    libcurl.easy_setopt(k->easy, CURLOPT_SSL_VERIFYHOST, k->insecure ? 0L : 2L) != CURLE_OK ||
	    (!k->insecure && k->ca_file &&
	     libcurl.easy_setopt(k->easy, CURLOPT_CAINFO, k->ca_file) != CURLE_OK)) {
		snprintf(err, errlen, "this libcurl cannot talk to the kubelet over verified HTTPS (%s)",
			 libcurl.version());
		ret = -ENOTSUP;
		goto fail;
	}
	libcurl.easy_setopt(k->easy, CURLOPT_URL, k->url);
	libcurl.easy_setopt(k->easy, CURLOPT_NOSIGNAL, 1L);
	libcurl.easy_setopt(k->easy, CURLOPT_NOPROXY, "*");
	libcurl.easy_setopt(k->easy, CURLOPT_ACCEPT_ENCODING, "");
	libcurl.easy_setopt(k->easy, CURLOPT_USERAGENT, k->user_agent);
	libcurl.easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	libcurl.easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 k->timeout_ms < 5000 ? k->timeout_ms : 5000L);
	libcurl.easy_setopt(k->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	libcurl.easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_body);
	libcurl.easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
	libcurl.easy_setopt(k->easy, CURLOPT_ERRORBUFFER, k->errbuf);
	if (k->connect_to)
		libcurl.easy_setopt(k->easy, CURLOPT_CONNECT_TO, k->connect_to);
	*out = k;
	return 0;

fail:
	kubelet_free(k);
	return ret;
}

void kubelet_free(struct kubelet *k)
{
	if (!k)
		return;
	if (k->multi && k->easy && k->busy)
		libcurl.multi_remove_handle(k->multi, k->easy);
	if (k->easy)
		libcurl.easy_cleanup(k->easy);
	if (k->multi)
		libcurl.multi_cleanup(k->multi);
	libcurl.slist_free_all(k->headers);
	libcurl.slist_free_all(k->connect_to);
	wipe_free(k->token);
	if (k->epfd >= 0)
		close(k->epfd);
	if (k->timerfd >= 0)
		close(k->timerfd);
	free(k->body);
	free(k->url);
	free(k->base_url);
	free(k->token_file);
	free(k->ca_file);
	free(k->host_ip);
	free(k->user_agent);
	free(k);
	libcurl.global_cleanup();
}

int kubelet_fd(const struct kubelet *k)
{
	return k->epfd;
}

/* ---- one poll ------------------------------------------------------------------ */

/*
 * The token file's content without surrounding white space, malloc'd into
 * *token; 0, or -errno with the reason in k->message.
 */
static int read_token(struct kubelet *k, char **token)
{
	char *buf = malloc(TOKEN_MAX + 1), *s, *e;
	size_t used = 0;
	ssize_t n;
	int fd, ret = 0;

	*token = NULL;
	if (!buf)
		return -ENOMEM;
	fd = open(k->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	while (used < TOKEN_MAX && (n = read(fd, buf + used, TOKEN_MAX - used)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		used += (size_t)n;
	}
	close(fd);
	if (ret)
		goto fail;
	buf[used] = '\0';
	for (s = buf; *s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' ||
					  e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (!*s || strpbrk(s, "\r\n") || strlen(s) != (size_t)(e - s)) {
		ret = -EINVAL;
		goto fail;
	}
	memmove(buf, s, (size_t)(e - s) + 1);
	*token = buf;
	return 0;
fail:
	explicit_bzero(buf, TOKEN_MAX + 1);
	free(buf);
	snprintf(k->message, sizeof(k->message),
		 "cannot read the kubelet bearer token from %s: %s (see --kubelet-token-file)",
		 k->token_file, ret == -EINVAL ? "it is empty or not one line" : strerror(-ret));
	return ret;
}

/* Headers for a poll with token (may be NULL), replacing the last poll's. */
static int set_headers(struct kubelet *k, const char *token)
{
	struct curl_slist *h = libcurl.slist_append(NULL, "Accept: application/json"), *t;

	if (h && token) {
		size_t len = strlen(token) + sizeof("Authorization: Bearer ");
		char *line = malloc(len);

		if (!line) {
			libcurl.slist_free_all(h);
			return -ENOMEM;
		}
		snprintf(line, len, "Authorization: Bearer %s", token);
		t = libcurl.slist_append(h, line);
		explicit_bzero(line, len);
		free(line);
		if (!t) {
			libcurl.slist_free_all(h);
			return -ENOMEM;
		}
	}
	if (!h)
		return -ENOMEM;
	libcurl.easy_setopt(k->easy, CURLOPT_HTTPHEADER, h);
	if (k->headers) {
		/* The slist holds the token too: wipe it before freeing. */
		for (t = k->headers; t; t = t->next)
			explicit_bzero(t->data, strlen(t->data));
		libcurl.slist_free_all(k->headers);
	}
	k->headers = h;
	return 0;
}

static int start_transfer(struct kubelet *k)
{
	CURLMcode mc;

	k->len = 0;
	k->too_large = false;
	k->errbuf[0] = '\0';
	mc = libcurl.multi_add_handle(k->multi, k->easy);
	if (mc != CURLM_OK)
		return -EIO;
	k->busy = true;
	return 0;
}

int kubelet_poll(struct kubelet *k)
{
	char *token = NULL;
	int ret;

	if (k->busy)
		return -EBUSY;
	k->retried_401 = false;
	k->message[0] = '\0';
	k->started_ns = mono_now_ns();
	if (k->token_file) {
		ret = read_token(k, &token);
		if (ret) {
			/* Reported like any failed poll, from kubelet_ready(). */
			k->busy = true;
			k->pending_failure = true;
			k->pending_reason = KUBELET_ERR_TOKEN;
			arm_timer(k, 0);
			return 0;
		}
	}
	ret = set_headers(k, token);
	if (ret) {
		wipe_free(token);
		return ret;
	}
	wipe_free(k->token);
	k->token = token;
	return start_transfer(k);
}

/* A 401: if the token on disk changed since it was read, retry with it
 * once. true if a retry was started. */
static bool retry_with_new_token(struct kubelet *k)
{
	char *token = NULL;

	if (k->retried_401 || !k->token_file)
		return false;
	k->retried_401 = true;
	if (read_token(k, &token))
		return false;
	if (k->token && !strcmp(token, k->token)) {
		wipe_free(token);
		return false;
	}
	if (set_headers(k, token)) {
		wipe_free(token);
		return false;
	}
	wipe_free(k->token);
	k->token = token;
	return start_transfer(k) == 0;
}

/* The first line of text (len bytes), printable and at most 200
 * characters, for error messages. */
static void excerpt_of(const char *text, size_t text_len, char *buf, size_t len)
{
	size_t n = 0;

	for (; n < text_len && n < 200 && n + 1 < len && text[n] != '\n' && text[n] != '\r'; n++)
		buf[n] = (text[n] >= ' ' && text[n] < 127) ? text[n] : '?';
	buf[n] = '\0';
	if (n == 200 && n < text_len && len > 204)
		strcat(buf, "...");
}

static void body_excerpt(const struct kubelet *k, char *buf, size_t len)
{
	excerpt_of(k->body ? k->body : "", k->len, buf, len);
}

static void classify(struct kubelet *k, CURLcode code, long status, struct kubelet_result *r)
{
	const char *detail = k->errbuf[0] ? k->errbuf : libcurl.easy_strerror(code);
	char excerpt[204];

	r->http_status = status;
	if (code == CURLE_OK && status == 200) {
		r->ok = true;
		r->body = k->body ? k->body : "";
		r->len = k->len;
		return;
	}
	r->ok = false;
	r->message = k->message;
	if (code == CURLE_OK) {
		body_excerpt(k, excerpt, sizeof(excerpt));
		if (status == 401) {
			r->reason = KUBELET_ERR_UNAUTHORIZED;
			snprintf(k->message, sizeof(k->message),
				 "the kubelet at %s refused the bearer token%s%s (HTTP 401): check --kubelet-token-file and that the kubelet authenticates tokens (--authentication-token-webhook)",
				 k->base_url, k->token_file ? " from " : " (none was sent)",
				 k->token_file ? k->token_file : "");
		} else if (status >= 300 && status < 400) {
			char *location = NULL, where[204] = "(no Location)";

			libcurl.easy_getinfo(k->easy, CURLINFO_REDIRECT_URL, &location);
			if (location)
				excerpt_of(location, strlen(location), where, sizeof(where));
			r->reason = KUBELET_ERR_HTTP;
			snprintf(k->message, sizeof(k->message),
				 "the kubelet at %s redirects GET /pods to %s (HTTP %ld): not followed, the bearer token goes to --kubelet-url only; give the kubelet's own address",
				 k->base_url, where, status);
		} else if (status == 403) {
			r->reason = KUBELET_ERR_FORBIDDEN;
			snprintf(k->message, sizeof(k->message),
				 "the kubelet at %s forbids GET /pods (HTTP 403): grant the service account 'get' on nodes/pods (or nodes/proxy on clusters before 1.33): %s",
				 k->base_url, excerpt);
		} else {
			r->reason = KUBELET_ERR_HTTP;
			snprintf(k->message, sizeof(k->message), "the kubelet at %s answered HTTP %ld: %s",
				 k->base_url, status, excerpt[0] ? excerpt : "(no body)");
		}
		return;
	}
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		r->reason = KUBELET_ERR_TIMEOUT;
		snprintf(k->message, sizeof(k->message),
			 "the kubelet at %s did not answer within %.1f s: %s", k->base_url,
			 k->timeout_ms / 1e3, detail);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		r->reason = KUBELET_ERR_CONNECT;
		snprintf(k->message, sizeof(k->message),
			 "cannot resolve the kubelet's host in %s: %s (set --kubelet-host-ip, e.g. from the downward API's status.hostIP)",
			 k->base_url, detail);
		return;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		r->reason = KUBELET_ERR_CONNECT;
		snprintf(k->message, sizeof(k->message), "cannot reach the kubelet at %s%s%s: %s",
			 k->base_url, k->host_ip ? " via " : "", k->host_ip ? k->host_ip : "", detail);
		return;
	case CURLE_PEER_FAILED_VERIFICATION: {
		char now[600] = "";

		if (k->ca_file)
			snprintf(now, sizeof(now), " (now %s)", k->ca_file);
		r->reason = KUBELET_ERR_TLS;
		snprintf(k->message, sizeof(k->message),
			 "cannot verify the kubelet's TLS certificate at %s: %s. Kubelet serving certificates are often self-signed: give the CA that signed it with --kubelet-ca-file%s, make --kubelet-url name the host the certificate was issued for, or skip verification with --kubelet-insecure-skip-tls-verify",
			 k->base_url, detail, now);
		return;
	}
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		r->reason = KUBELET_ERR_TLS;
		snprintf(k->message, sizeof(k->message),
			 "cannot use the CA file %s to verify the kubelet: %s (see --kubelet-ca-file)",
			 k->ca_file ? k->ca_file : "(system default)", detail);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		r->reason = KUBELET_ERR_TLS;
		snprintf(k->message, sizeof(k->message), "TLS with the kubelet at %s failed: %s",
			 k->base_url, detail);
		return;
	case CURLE_WRITE_ERROR:
		r->reason = KUBELET_ERR_HTTP;
		snprintf(k->message, sizeof(k->message), "the kubelet's answer at %s %s", k->base_url,
			 k->too_large ? "is larger than 64 MiB: refused" : "could not be stored (out of memory)");
		return;
	default:
		r->reason = KUBELET_ERR_OTHER;
		snprintf(k->message, sizeof(k->message), "GET %s failed: %s", k->url, detail);
		return;
	}
}

static void finish(struct kubelet *k, struct kubelet_result *r, kubelet_done_fn fn, void *ctx)
{
	k->busy = false;
	r->seconds = (double)(mono_now_ns() - k->started_ns) / 1e9;
	fn(ctx, r);
}

static void check_done(struct kubelet *k, kubelet_done_fn fn, void *ctx)
{
	CURLMsg *msg;
	int left;

	while ((msg = libcurl.multi_info_read(k->multi, &left))) {
		struct kubelet_result r = { 0 };
		long status = 0;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE || msg->easy_handle != k->easy)
			continue;
		code = msg->data.result;
		libcurl.easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
		libcurl.multi_remove_handle(k->multi, k->easy);
		k->busy = false;
		if (code == CURLE_OK && status == 401 && retry_with_new_token(k))
			continue;
		classify(k, code, status, &r);
		finish(k, &r, fn, ctx);
		return;
	}
}

void kubelet_ready(struct kubelet *k, kubelet_done_fn fn, void *ctx)
{
	struct epoll_event ev[16];
	int n, running;

	n = epoll_wait(k->epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == k->timerfd) {
			uint64_t expirations;

			while (read(k->timerfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
				;
			if (k->pending_failure) {
				struct kubelet_result r = {
					.reason = k->pending_reason,
					.message = k->message,
				};

				k->pending_failure = false;
				finish(k, &r, fn, ctx);
				continue;
			}
			libcurl.multi_socket_action(k->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		} else {
			int flags = 0;

			if (ev[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (ev[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			libcurl.multi_socket_action(k->multi, ev[i].data.fd, flags, &running);
		}
	}
	check_done(k, fn, ctx);
}
