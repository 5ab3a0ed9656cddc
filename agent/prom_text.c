// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_text.h"

void prom_put(struct prom_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	if (!t->buf) {
		t->buf = malloc(4096);
		if (!t->buf) {
			t->oom = true;
			return;
		}
		t->cap = 4096;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = (t->cap + (size_t)n + 1) * 2;
			char *bigger = realloc(t->buf, cap);

			if (!bigger) {
				t->oom = true;
				return;
			}
			t->buf = bigger;
			t->cap = cap;
		}
	}
}

void prom_label(struct prom_text *t, const char *name, const char *value, bool last)
{
	prom_put(t, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			prom_put(t, "\\\\");
		else if (*p == '"')
			prom_put(t, "\\\"");
		else if (*p == '\n')
			prom_put(t, "\\n");
		else
			prom_put(t, "%c", *p);
	}
	prom_put(t, "\"%s", last ? "" : ",");
}

void prom_head(struct prom_text *t, const char *name, const char *type, const char *help)
{
	prom_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_loop_hist_le(unsigned int b, char *buf, size_t len)
{
	uint64_t ns = loop_hist_bucket_low(b + 1);
	size_t n;

	/* Whole nanoseconds: printed exactly, not through a double. */
	snprintf(buf, len, "%llu.%09llu", (unsigned long long)(ns / 1000000000),
		 (unsigned long long)(ns % 1000000000));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

void prom_loop_hist(struct prom_text *t, const char *name, const char *labels,
		    const struct loop_hist *h)
{
	const char *sep = labels[0] ? "," : "";
	unsigned long long below = 0;
	char le[32];

	for (unsigned int b = 0; b + 1 < LOOP_HIST_BUCKETS; b++) {
		below += h->buckets[b];
		prom_loop_hist_le(b, le, sizeof(le));
		prom_put(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le, below);
	}
	below += h->buckets[LOOP_HIST_BUCKETS - 1];
	prom_put(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, below);
	prom_put(t, "%s_sum{%s} %llu.%09llu\n", name, labels,
		 (unsigned long long)(h->sum_ns / 1000000000),
		 (unsigned long long)(h->sum_ns % 1000000000));
	prom_put(t, "%s_count{%s} %llu\n", name, labels, below);
}

char *prom_finish(struct prom_text *t, size_t *len)
{
	char *text = t->buf;

	if (!t->oom && !text)
		text = calloc(1, 1); /* nothing was put */
	if (t->oom || !text) {
		free(text);
		text = NULL;
	} else {
		*len = t->len;
	}
	memset(t, 0, sizeof(*t));
	return text;
}
