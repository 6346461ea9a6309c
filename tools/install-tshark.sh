#!/bin/sh
# Best-effort install of tshark (and a Lua compiler for the syntax check) for the dissector tests
# (tests/dissector/). Debian/Ubuntu only; without tshark those tests are skipped, naming the package.
# Never fails: the lead decides whether CI runs it (see docs/wireshark.md).
set -u
if command -v tshark >/dev/null 2>&1; then
    echo "tshark already installed: $(tshark --version 2>/dev/null | head -n 1)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get here: install tshark with your package manager (docs/wireshark.md)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
# The wireshark-common package asks whether non-root users may capture: answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark lua5.4 || \
    { $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark lua5.4; } || true
command -v tshark >/dev/null 2>&1 && tshark --version | head -n 1 || echo "tshark could not be installed" >&2
exit 0
