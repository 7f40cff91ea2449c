"""check_docs.py passes good blocks and reports each bad one by file:line."""
import subprocess
import sys
from pathlib import Path

CHECKER = Path(__file__).with_name("check_docs.py")

GOOD = """\
# good

<!-- doc: prelude
static int handler(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)res;
    (void)userdata;
    return 0;
}
-->
```c
fastserve_server *srv = fastserve_server_new(NULL);
fastserve_server_route(srv, "GET", 3, "/", 1, 0, handler, NULL);
fastserve_server_free(srv);
```

```c
#include <fastserve.h>
int main(void)
{
    fastserve_server_free(fastserve_server_new(NULL));
    return 0;
}
```

```python
import fastserve
assert fastserve.parse_request(b"GET / HTTP/1.1\\r\\n\\r\\n").consumed == 18
```

<!-- doc: prelude
import fastserve
-->
```python
>>> fastserve.parse_request(b"GET / HTTP/1.1\\r\\n").consumed
Traceback (most recent call last):
...
AttributeError: 'NoneType' object has no attribute 'consumed'
```

<!-- doc: no-run -->
```python
while True:
    pass
```

```sh
make lib       # a comment
python3 bench/http_bench.py --help && cargo --version
```

```console
$ make test
output, not a command
```

```text
not checked
```
"""

BAD = """\
# bad

```c
fastserve_server *srv = fastserve_server_new(NULL, 1);
```

```python
1 / 0
```

<!-- doc: no-run -->
```python
def f(:
```

```python
>>> 1 + 1
3
```

```python
while True:
    pass
```

```sh
make no-such-target
python3 bench/no_such_script.py
```

<!-- doc: norun -->
```python
pass
```

<!-- doc: no-run -->
not a code block
"""


def check(tmp_path, text):
    md = tmp_path / "doc.md"
    md.write_text(text)
    p = subprocess.run(
        [sys.executable, str(CHECKER), "--timeout", "5", str(md)], capture_output=True, text=True, timeout=120
    )
    return p.returncode, p.stdout + p.stderr, str(md)


def test_good_blocks_pass(tmp_path):
    rc, out, _ = check(tmp_path, GOOD)
    assert rc == 0, out
    assert "7 blocks checked, 0 failed" in out, out


def test_each_bad_block_is_reported(tmp_path):
    rc, out, md = check(tmp_path, BAD)
    assert rc == 1, out
    fences = [i + 1 for i, l in enumerate(BAD.splitlines()) if l.startswith("```") and l != "```"]
    for line in fences:
        assert f"{md}:{line}: " in out, (line, out)
    assert "8 blocks checked, 8 failed" in out, out
    # the compiler and the traceback point into the Markdown file
    assert f"{md}:4:" in out, out
    assert f'File "{md}", line 8' in out, out
    assert "no Makefile target no-such-target" in out
    assert "no file bench/no_such_script.py" in out
    assert "timed out" in out
    assert "unknown marker" in out
    assert f"{md}:36: marker block failed" in out, out
