"""Checks every fenced code block of the given Markdown files.

    python tests/docs/check_docs.py README.md python/README.md

By the fence's language:

  c             compiled with `$CC -Wall -Wextra -Werror -Iinclude` and linked
                against build/lib/libfastserve.so (`make lib`); never run.
                A block that defines `main` is a whole program, compiled as
                it is. Any other block is a fragment: its lines become the
                body of `main`, after `#include <fastserve.h>`.
  python        run as a script by .venv/bin/python (`make python`) from the
                repository root, for 60 s at most (--timeout). A block whose
                first line starts with `>>>` is an interpreter session,
                checked with doctest (the output must match).
  sh, bash,     not run. Each command's program must exist: `make X` needs a
  shell,        rule for X in the Makefile; `python3 F`, `bash F` need the
  console       file F; a path needs the file (or a Makefile rule making it);
                anything else must be on PATH or in .venv/bin. Comments are
                skipped, and so are output lines in a block that marks its
                commands with a `$ ` prompt.
  other or none not checked.

Markers, in HTML comments (hidden when rendered) on the lines right before
the fence:

  <!-- doc: no-run -->      python: only compiled (a server that runs forever).
  <!-- doc: prelude
  ...code...
  -->                       code the block assumes but does not show: for C it
                            goes first, at file scope; for Python it runs
                            first (a session gets its globals).

Blocks are independent of each other. Every failure is reported as
file:line (of the opening fence), and any failure exits 1.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SH_LANGS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^`\s]*)")
MARKER = re.compile(r"^\s*<!--\s*doc:\s*(.*?)\s*(-->)?\s*$")


class Block:
    def __init__(self, path, line, lang, code):
        self.path, self.line, self.lang, self.code = path, line, lang, code
        self.no_run = False
        self.prelude, self.prelude_line = "", 0
        self.errors = []  # malformed markers
        self.marker_lines = set()

    @property
    def where(self):
        return f"{self.path}:{self.line}"


def parse_markers(lines, fence_idx, block):
    """The `<!-- doc: ... -->` comments right above lines[fence_idx],
    blank lines allowed between them."""
    i = fence_idx - 1
    while i >= 0:
        if not lines[i].strip():
            i -= 1
            continue
        if not lines[i].rstrip().endswith("-->"):
            break
        start = i
        while start >= 0 and "<!--" not in lines[start]:
            start -= 1
        m = MARKER.match(lines[start]) if start >= 0 else None
        if not m:
            break  # some other comment
        word, closed = m.group(1), m.group(2)
        block.marker_lines.add(start)
        if start == i and closed:
            if word == "no-run":
                block.no_run = True
            else:
                block.errors.append(f"unknown marker <!-- doc: {word} --> at line {start + 1}")
        elif word == "prelude" and not closed and lines[i].strip() == "-->":
            block.prelude = "\n".join(lines[start + 1 : i]) + "\n"
            block.prelude_line = start + 2
        else:
            block.errors.append(f"malformed marker at line {start + 1}")
        i = start - 1


def parse_blocks(path, text):
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        close = re.compile(r"^ *" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        body = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        b = Block(path, i + 1, lang, "\n".join(body) + "\n")
        parse_markers(lines, i, b)
        blocks.append(b)
        i = j + 1
    used = set().union(*(b.marker_lines for b in blocks))
    for n, line in enumerate(lines):
        if MARKER.match(line) and n not in used:
            stray = Block(path, n + 1, "marker", "")
            stray.errors.append("a doc marker not right above a code block")
            blocks.append(stray)
    return blocks


def run(argv, input=None, timeout=None, **kw):
    """None on success, else the output."""
    # a session of its own, so that a timeout ends whatever the block started
    p = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )
    try:
        out, _ = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return f"timed out after {timeout} s (a server? mark the block <!-- doc: no-run -->)"
    return None if p.returncode == 0 else (out.strip() or f"exit status {p.returncode}")


# C

C_MAIN = re.compile(r"\bint\s+main\s*\(")


def check_c(b, tmp):
    lib = ROOT / "build/lib/libfastserve.so"
    if not lib.exists():
        return f"{lib} is missing: run `make lib`"
    prelude = f'#line {b.prelude_line} "{b.path}"\n{b.prelude}' if b.prelude else ""
    code = f'#line {b.line + 1} "{b.path}"\n{b.code}'
    if C_MAIN.search(b.code):
        src = prelude + code
    else:
        src = f"#include <fastserve.h>\n{prelude}int main(void)\n{{\n{code}    return 0;\n}}\n"
    c = Path(tmp) / "block.c"
    c.write_text(src)
    cc = shlex.split(os.environ.get("CC") or "cc")
    return run(
        cc
        + ["-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}", str(c)]
        + [f"-L{lib.parent}", "-lfastserve", "-lpthread", "-o", str(Path(tmp) / "block")]
    )


# Python: the venv's interpreter compiles the block under the Markdown file's
# name, padded so that tracebacks give the Markdown line numbers.

PY_BOOT = r"""
import doctest, json, sys
a = json.load(sys.stdin)
def code(text, line):
    return compile("\n" * (line - 1) + text, a["name"], "exec")
g = {"__name__": "__main__"}
if a["prelude"]:
    exec(code(a["prelude"], a["prelude_line"]), g)
if a["mode"] == "doctest":
    t = doctest.DocTestParser().get_doctest(a["code"], g, a["name"], a["name"], a["line"] - 1)
    r = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    r.run(t)
    sys.exit(1 if r.failures else 0)
c = code(a["code"], a["line"])
if a["mode"] == "run":
    exec(c, g)
"""


def check_python(b, python, timeout):
    if not Path(python).exists():
        return f"{python} is missing: run `make python`"
    session = b.code.lstrip().startswith(">>>")
    mode = "compile" if b.no_run else "doctest" if session else "run"
    args = {
        "name": b.path,
        "mode": mode,
        "prelude": b.prelude,
        "prelude_line": b.prelude_line,
        "code": b.code,
        "line": b.line + 1,
    }
    return run(
        [python, "-c", PY_BOOT],
        input=json.dumps(args),
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


# Shell


def make_targets(makefile):
    names = set()
    for line in makefile.read_text().splitlines():
        m = re.match(r"^([^\s#:=$][^:=]*?)\s*::?(?!=)", line)
        if m:
            names.update(m.group(1).split())
        m = re.match(r"^\.PHONY\s*:(.*)", line)
        if m:
            names.update(m.group(1).split())
    return names


def made_by(path, targets):
    for t in targets:
        if t == path or ("%" in t and re.fullmatch(re.escape(t).replace("%", ".+"), path)):
            return True
    return False


def commands(code):
    """Each simple command of a shell block as a list of words."""
    text = code.replace("\\\n", " ")
    lines = text.splitlines()
    if any(l.startswith("$ ") for l in lines):
        lines = [l[2:] for l in lines if l.startswith("$ ")]
    for line in lines:
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        cmd = []
        for tok in lex:
            if tok and set(tok) <= set("&|;()"):
                if cmd:
                    yield cmd
                cmd = []
            else:
                cmd.append(tok)
        if cmd:
            yield cmd


def check_sh(b):
    targets = make_targets(ROOT / "Makefile")
    venv_bin = ROOT / ".venv/bin"
    errors = []
    for cmd in commands(b.code):
        while cmd and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", cmd[0]):
            cmd = cmd[1:]
        if not cmd:
            continue
        word, args = cmd[0], cmd[1:]
        line = " ".join(cmd)
        if word == "make":
            for t in args:
                if not t.startswith("-") and "=" not in t and t not in targets:
                    errors.append(f"`{line}`: no Makefile target {t}")
        elif "/" in word:
            if not (ROOT / word).exists() and not made_by(os.path.normpath(word), targets):
                errors.append(f"`{line}`: no file {word}")
        elif not shutil.which(word) and not (venv_bin / word).exists():
            errors.append(f"`{line}`: {word} not found")
        if re.fullmatch(r"(python[0-9.]*|bash|sh)", os.path.basename(word)):
            scripts = [a for a in args if not a.startswith("-")]
            if scripts and not any(a in ("-m", "-c") for a in args) and not (ROOT / scripts[0]).is_file():
                errors.append(f"`{line}`: no file {scripts[0]}")
        errors += [f"`{line}`: no file {a}" for a in args if a.startswith("./") and not (ROOT / a).exists()]
    return "\n".join(errors) or None


def check(blocks, python, timeout):
    failures = 0
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for b in blocks:
            if b.errors:
                err = "\n".join(b.errors)
            elif b.lang == "c":
                err = check_c(b, tmp)
            elif b.lang == "python":
                err = check_python(b, python, timeout)
            elif b.lang in SH_LANGS:
                err = check_sh(b)
            else:
                continue
            checked += 1
            if err:
                failures += 1
                detail = "\n".join("    " + l for l in err.splitlines())
                print(f"{b.where}: {b.lang} block failed\n{detail}")
    return checked, failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("--timeout", type=float, default=60, help="seconds per Python block")
    a = ap.parse_args(argv)
    blocks = []
    for f in a.files:
        p = Path(f).resolve()
        try:
            name = str(p.relative_to(ROOT))
        except ValueError:
            name = f
        blocks += parse_blocks(name, p.read_text())
    checked, failures = check(blocks, a.python, a.timeout)
    print(f"check_docs: {checked} blocks checked, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
