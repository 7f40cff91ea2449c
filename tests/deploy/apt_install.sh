#!/bin/sh
# Installs the Debian packages named (each "package" or "package:command")
# whose command is missing, as root or through sudo. Packaged daemons are
# not started: the tests run their own, on free ports.
#   sh tests/deploy/apt_install.sh haproxy nginx-light:nginx
set -eu

missing=""
for spec in "$@"; do
    pkg=${spec%%:*}
    cmd=${spec#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root() { sudo -n "$@"; }
else
    echo "apt_install.sh: need root or passwordless sudo to install:$missing" >&2
    exit 1
fi

echo "apt-get install$missing"
# policy-rc.d exit 101: invoke-rc.d starts no service during the install
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    added_policy=1
fi
rc=0
{ as_root apt-get update -qq && \
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; } || rc=$?
[ $added_policy -eq 0 ] || as_root rm -f /usr/sbin/policy-rc.d
exit $rc
