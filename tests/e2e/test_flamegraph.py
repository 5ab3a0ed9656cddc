"""Flame graphs of blocked time (--folded, --speedscope), end to end: the
real binary watching real Python programs, the files checked against the
run's own JSON events, speedscope's own file-format schema (from the
speedscope npm package, validated with ajv) and speedscope's own page
rendered by a headless Chromium.

  * a program with known blocking functions: the folded stacks are those
    of the events, weighted by the blocked milliseconds (each block shared
    among its stacks by their samples), adding up to the blocked time;
  * the speedscope file validates and is drawn, its profile named;
  * function names with ';', newlines, quotes, backslashes and 5000
    characters break neither format;
  * SIGTERM still writes the files; a symbolic link at the path is
    replaced, never written through; a path that cannot be written is a
    usage error before anything runs.
"""
import json
import os
import pathlib
import re
import signal
import shutil
import socket
import struct
import subprocess
import zlib

import pytest

from conftest import PY, ROOT, wait_for

NPM = pathlib.Path(os.environ.get("K8S_MODELS", str(ROOT / "build" / "k8s-models")))
SPEEDSCOPE = NPM / "node_modules" / "speedscope" / "dist" / "release"
CHROMIUM = shutil.which("chromium")

KNOWN = '''
import asyncio, time

def blocker_a():
    time.sleep(0.2)  # A

def blocker_b():
    time.sleep(0.12)  # B

async def main():
    for f in (blocker_a, blocker_b, blocker_a, blocker_b, blocker_a):
        await asyncio.sleep(0.05)
        f()

asyncio.run(main())
'''

HOSTILE = '''
import asyncio, time

def template():
    time.sleep(0.15)

NAMES = ["semi;colon;x", "new\\nline\\r", 'quo"te\\'s', "back\\\\slash", "sp ace 123",
         "h" * 5000]
FUNCS = [template.__class__(template.__code__.replace(co_name=n, co_qualname=n), globals())
         for n in NAMES]

async def main():
    for f in FUNCS:
        await asyncio.sleep(0.05)
        f()

asyncio.run(main())
'''


def run(bs, tmp_path, program, *extra, threshold="50"):
    script = tmp_path / "prog.py"
    script.write_text(program)
    folded, speedscope = tmp_path / "out.folded", tmp_path / "out.speedscope.json"
    res = bs.launch("-t", threshold, "--json", "--folded", str(folded),
                    "--speedscope", str(speedscope), *extra, command=[PY, str(script)], timeout=60)
    assert res.rc == 0, res
    return res, script, folded, speedscope


def folded_lines(path):
    """[(frames, weight)] of a folded file; every line must parse."""
    out = []
    for line in path.read_text().split("\n")[:-1]:
        m = re.fullmatch(r"(.+) ([0-9]+)", line)
        assert m, f"not a folded line: {line!r}"
        out.append((m.group(1).split(";"), int(m.group(2))))
    return out


def frame_name(fr):
    esc = lambda s: "".join("\\\\" if c == "\\" else f"\\x{ord(c):02x}"
                            if c == ";" or ord(c) < 0x20 or ord(c) == 0x7f else c for c in s)
    line = f":{fr['line']}" if fr.get("line") else ""
    return f"{esc(fr['function'])} ({esc(fr['file'])}{line})"


def expected_folded(events):
    """Each event's duration in µs shared among its stacks by samples, as
    the shares add up (the reference for the files)."""
    us = {}
    for e in events:
        dur = int(e["duration_ms"] * 1000 + 0.5)
        stacks, samples = e.get("python_stacks") or [], e.get("stack_samples") or []
        total, seen, given = sum(samples), 0, 0
        if not total:
            us[("[no Python stack]",)] = us.get(("[no Python stack]",), 0) + dur
            continue
        for st, n in zip(stacks, samples):
            seen += n
            upto = dur * seen // total
            key = tuple(frame_name(f) for f in reversed(st))
            us[key] = us.get(key, 0) + upto - given
            given = upto
    return us


def test_folded_weights_are_the_blocked_milliseconds(bs, tmp_path):
    res, script, folded, _ = run(bs, tmp_path, KNOWN)
    events = res.events
    assert len(events) == 5, res
    lines = folded_lines(folded)
    total_ms = sum(e["duration_ms"] for e in events)
    # The weights add up to the blocked time, rounded.
    assert abs(sum(w for _, w in lines) - total_ms) <= 1, (lines, total_ms)
    # Exactly the events' stacks, each with its share (±1 ms of rounding).
    want = {k: v for k, v in expected_folded(events).items() if v >= 1000}
    got = {tuple(frames): w for frames, w in lines}
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, w in got.items():
        assert abs(w - want[k] / 1000) <= 1, (k, w, want[k])
    # The known functions, with their lines, carry their sleeps.
    src = script.read_text().splitlines()
    line_a = next(n for n, t in enumerate(src, 1) if t.endswith("# A"))
    line_b = next(n for n, t in enumerate(src, 1) if t.endswith("# B"))
    a = sum(w for f, w in lines if f[-1] == f"blocker_a ({script}:{line_a})")
    b = sum(w for f, w in lines if f[-1] == f"blocker_b ({script}:{line_b})")
    assert 3 * 200 - 10 <= a <= 3 * 200 + 60, lines
    assert 2 * 120 - 10 <= b <= 2 * 120 + 60, lines
    for f, _ in lines:
        assert f[0].startswith(f"<module> ({script}:"), f  # root first


def validate_speedscope(path):
    """ajv against the schema the speedscope package ships."""
    check = r"""
const Ajv = require("ajv");
const fs = require("fs");
const schema = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const data = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const ajv = new Ajv({strict: false, allErrors: true});
const ok = ajv.validate(schema, data);
if (!ok) { console.log(JSON.stringify(ajv.errors)); process.exit(1); }
"""
    p = subprocess.run(["node", "-e", check, str(SPEEDSCOPE / "file-format-schema.json"), str(path)],
                       env={**os.environ, "NODE_PATH": str(NPM / "node_modules")},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_speedscope_file_validates(bs, tmp_path):
    res, script, _, speedscope = run(bs, tmp_path, KNOWN)
    validate_speedscope(speedscope)
    doc = json.loads(speedscope.read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    pid = res.one("session_start")["pid"]
    (prof,) = doc["profiles"]
    assert prof["type"] == "sampled" and prof["unit"] == "milliseconds"
    assert prof["name"] == f"python3 pid {pid} tid {pid}" or prof["name"].endswith(
        f"pid {pid} tid {pid}")
    total = sum(e["duration_ms"] for e in res.events)
    assert abs(sum(prof["weights"]) - total) < 0.01 * len(res.events)
    assert abs(prof["endValue"] - total) < 0.01 * len(res.events)
    want = expected_folded(res.events)
    got = {tuple(frames[i]["name"] for i in s): w for s, w in zip(prof["samples"], prof["weights"])}
    assert set(got) == set(want)
    for k, w in got.items():
        assert abs(w - want[k] / 1000) < 0.0015, k


def test_hostile_function_names(bs, tmp_path):
    res, script, folded, speedscope = run(bs, tmp_path, HOSTILE, threshold="100")
    assert len(res.events) == 6, res
    lines = folded_lines(folded)  # every line parses: no raw newline made two
    leaves = [f[-1] for f, _ in lines]
    for name in ["semi\\x3bcolon\\x3bx", "new\\x0aline\\x0d", "quo\"te's", "back\\\\slash",
                 "sp ace 123"]:
        assert any(leaf.startswith(name + f" ({script}:") for leaf in leaves), (name, leaves)
    huge = [leaf for leaf in leaves if leaf.startswith("hhhh")]
    assert len(huge) == 1 and len(huge[0].encode()) <= 512 and huge[0].endswith("..."), huge
    # The ';' of a name never splits a frame: every stack has the same depth.
    assert len({len(f) for f, _ in lines}) == 1, lines
    assert abs(sum(w for _, w in lines) - sum(e["duration_ms"] for e in res.events)) <= 1
    validate_speedscope(speedscope)
    names = [fr["name"] for fr in json.loads(speedscope.read_text())["shared"]["frames"]]
    assert "new\\x0aline\\x0d (%s:5)" % script in names, names


def test_sigterm_writes_the_files(bs, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import asyncio, time\n"
                      "async def main():\n"
                      "    while True:\n"
                      "        time.sleep(0.1)\n"
                      "        await asyncio.sleep(0.01)\n"
                      "asyncio.run(main())\n")
    folded = tmp_path / "out.folded"
    p = bs.start("-t", "50", "--json", "--folded", str(folded), "--", PY, str(script))
    wait_for(lambda: len([r for r in p.records() if r.get("type") == "blocking_event"]) >= 3,
             20, "three blocks")
    p.send(signal.SIGTERM)
    p.wait(20)
    events = [r for r in p.records() if r.get("type") == "blocking_event"]
    lines = folded_lines(folded)
    assert lines and abs(sum(w for _, w in lines) - sum(e["duration_ms"] for e in events)) <= 1
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left"


def test_link_at_the_path_is_replaced_not_followed(bs, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "out.folded"
    link.symlink_to(victim)
    res, *_ = run(bs, tmp_path, KNOWN)
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and folded_lines(link)


def test_unwritable_path_is_a_usage_error(bs, tmp_path):
    res = bs.run("--folded", str(tmp_path / "no" / "such" / "dir" / "x.folded"), "--", PY, "-c", "0")
    assert res.rc == 2 and "cannot write" in res.stderr, res
    (tmp_path / "d").mkdir()
    res = bs.run("--speedscope", str(tmp_path / "d"), "--", PY, "-c", "0")
    assert res.rc == 2 and "directory" in res.stderr, res
    res = bs.run("--stats", "--folded", str(tmp_path / "x"), "1")
    assert res.rc == 2 and "--stats" in res.stderr, res


# --------------------------------------------------------------------------
# speedscope's own page in a headless Chromium


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of a non-interlaced 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    stride = w * bpp
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def render(profile, out_dir, shot=None, width=1200, height=700):
    """speedscope's index.html, served with the profile from a local HTTP
    server, in headless Chromium: its DOM (and a screenshot)."""
    www = out_dir / "www"
    shutil.copytree(SPEEDSCOPE, www)
    shutil.copy(profile, www / "profile.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=www, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/index.html#profileURL=profile.json"
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 10, "http server")
        base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--enable-unsafe-swiftshader", f"--window-size={width},{height}",
                "--virtual-time-budget=8000", f"--user-data-dir={out_dir / 'chromium'}"]
        dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout
        if shot:
            subprocess.run(base + [f"--screenshot={shot}", url], capture_output=True, timeout=120,
                           check=True)
        return dom
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.skipif(not CHROMIUM, reason="no chromium (make deps-test installs it)")
def test_chromium_renders_the_speedscope_file(bs, tmp_path):
    res, script, _, speedscope = run(bs, tmp_path, KNOWN)
    pid = res.one("session_start")["pid"]
    shot = tmp_path / "shot.png"
    dom = render(speedscope, tmp_path, shot)
    assert "<title>blocksnoop: blocked time by Python stack - speedscope</title>" in dom, dom[:2000]
    assert f"pid {pid} tid {pid}" in dom, dom[:4000]  # the profile's name in the toolbar
    assert "<canvas" in dom
    # The flame chart is drawn: the chart area (below the toolbar) holds
    # many colours, a blank or error page a few.
    w, h, bpp, rows = png_pixels(shot)
    colours = {row[x * bpp:x * bpp + 3] for row in rows[150:500:5] for x in range(0, w, 5)}
    assert len(colours) > 20, len(colours)
