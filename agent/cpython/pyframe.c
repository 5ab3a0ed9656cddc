// SPDX-License-Identifier: Apache-2.0
/*
 * pyframe.c - walking a thread's frames and placing them in their code
 * (see pyframe.h). The frame layout, and how a whole stack ends, is data
 * in struct py_offsets (pyoffsets.h); the line tables are linetable.h's.
 */
#include <errno.h>
#include <string.h>

#include "linetable.h"
#include "pyframe.h"

static bool seen_add(struct py_seen *s, uint64_t addr)
{
	const size_t n = sizeof(s->slot) / sizeof(s->slot[0]);
	size_t i = (size_t)((addr >> 3) * 0x9E3779B97F4A7C15ULL) & (n - 1);

	for (; s->slot[i]; i = (i + 1) & (n - 1))
		if (s->slot[i] == addr)
			return false;
	s->slot[i] = addr;
	return true;
}

int py_walk(struct py_process *p, uint64_t frame, struct raw_frame *raw, int *n, bool *more)
{
	const struct py_offsets *o = &p->off;
	struct py_seen *seen = p->seen;
	bool shim = false, entry = false, running = false;
	uint8_t fbuf[PYOFF_FRAME_MAX];
	int steps, err = 0;

	*n = 0;
	*more = false;
	if (o->frame_read > sizeof(fbuf))
		return -EINVAL;
	memset(seen, 0, sizeof(*seen));
	for (steps = 0; frame; steps++) {
		struct rbuf fb;
		uint64_t code;

		if (steps == PY_MAX_WALK || *n == PY_MAX_DEPTH + 1) {
			*more = true;
			break;
		}
		if (!remote_ptr_ok(frame) || !seen_add(seen, frame)) {
			err = -EFAULT; /* garbage or a cycle: a torn read */
			break;
		}
		err = pagecache_read(&p->pc, &p->r, frame, fbuf, o->frame_read);
		if (err)
			break;
		fb = rbuf_of(fbuf, o->frame_read);
		code = rbuf_u64(&fb, o->frame_code) & o->code_ptr_mask;
		if (o->frames == PY_FRAMES_OBJECT) {
			uint8_t state = rbuf_u8(&fb, o->frame_state);

			raw[*n].addr = frame;
			raw[*n].code = code;
			raw[*n].where = (int64_t)rbuf_i32(&fb, o->frame_lasti) * o->lasti_scale;
			(*n)++;
			running = state < 8 && (o->frame_state_live & (1u << state));
		} else {
			uint8_t owner = rbuf_u8(&fb, o->frame_owner);

			if (owner > o->owner_max) {
				/* No frame: its memory is being reused. */
				err = -EFAULT;
				break;
			}
			shim = owner >= o->owner_shim;
			if (!shim) {
				raw[*n].addr = frame;
				raw[*n].code = code;
				raw[*n].where = (int64_t)rbuf_u64(&fb, o->frame_lasti);
				(*n)++;
			}
			entry = o->frame_is_entry != PYOFF_NONE && rbuf_u8(&fb, o->frame_is_entry);
		}
		frame = rbuf_u64(&fb, o->frame_back);
		if (fb.bad) {
			err = -EFAULT;
			break;
		}
	}
	/*
	 * A stack that ends at a frame that cannot be a thread's first, or
	 * holds shims alone where those only wrap Python frames, was caught
	 * half-way through a call or a return (see pyoffsets.h).
	 */
	if (!err && !*more && steps > 0 &&
	    ((o->bottom_is_shim && !shim) || (o->shims_alone_torn && *n == 0) ||
	     (o->frame_is_entry != PYOFF_NONE && !entry) ||
	     (o->frame_state != PYOFF_NONE && !running)))
		err = -EFAULT;
	return err;
}

int py_frame_line(const struct py_process *p, const struct code_entry *e,
		  const struct raw_frame *rf)
{
	const struct py_offsets *o = &p->off;
	int line = PYLINE_NONE;

	if (!e->table)
		return 0; /* no (or an oversized) table */
	switch (o->lines) {
	case PY_LINES_LNOTAB:
		line = pyline_lnotab(e->table, e->tablen, e->firstlineno, rf->where);
		break;
	case PY_LINES_310:
		line = pyline_linetable310(e->table, e->tablen, e->firstlineno, rf->where);
		break;
	case PY_LINES_LOCATIONS: {
		uint64_t base = e->addr + o->code_adaptive, ip = (uint64_t)rf->where;

		/*
		 * 3.11/3.12 start a frame at prev_instr = first instruction - 1;
		 * anything else before the code, or far after it, is another
		 * frame's pointer.
		 */
		if (ip == base - 2)
			return e->firstlineno;
		if (ip < base || ip - base > (1ULL << 32))
			return -1;
		line = pyline_locations(e->table, e->tablen, e->firstlineno, (int64_t)((ip - base) / 2));
		break;
	}
	}
	if (line == PYLINE_OUTSIDE)
		return -1;
	return line == PYLINE_NONE || line < 0 ? 0 : line;
}
