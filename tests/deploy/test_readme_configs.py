"""The nginx and HAProxy configurations the README shows are the ones the
tests run (addresses and ports aside; the PROXY protocol line is tested by
test_haproxy_proxy.py)."""
import re

from conftest import ROOT
from test_haproxy import HAPROXY_CFG
from test_nginx import NGINX_CONF


def blocks(lang):
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```%s\n(.*?)^```" % lang, text, re.S | re.M)


def lines(conf):
    out = set()
    for line in conf.splitlines():
        line = line.split("#")[0].strip()
        # an address, a port or a number: compared as a placeholder
        line = re.sub(r"(\d+\.\d+\.\d+\.\d+)?:?\b\d{2,5}\b", "N", line)
        if line:
            out.add(line)
    return out


def test_nginx_snippet_is_tested():
    (snippet,) = blocks("nginx")
    tested = lines(NGINX_CONF.format(run="/tmp/x", backend=1111, port=2222))
    assert lines(snippet) - tested == set()


def test_haproxy_snippet_is_tested():
    (snippet,) = blocks("haproxy")
    snippet = snippet.replace(" send-proxy-v2", "")
    tested = lines(HAPROXY_CFG.format(port=1111, stats=2222, a=3333, b=4444))
    assert lines(snippet) - tested == set()
