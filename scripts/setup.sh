#!/usr/bin/env bash
# Idempotent set-up of lbaas on a Debian machine: system packages, then .venv with lbaas in it.
#
#   bash scripts/setup.sh           runtime: .venv with `pip install -e .`, and as root Debian's
#                                   haproxy (the amphora provider of `lbaas serve`)
#   bash scripts/setup.sh --test    also test-requirements.txt, PostgreSQL's and MariaDB's
#                                   server binaries (mariadb-server, mariadb-client) and
#                                   .venv-keystone: a real Keystone from PyPI for the identity
#                                   tests (same as LBAAS_SETUP_TESTS=1), HAProxy and
#                                   keepalived for the amphora config tests, and OVN and
#                                   Open vSwitch (ovn-central ovn-host openvswitch-switch
#                                   ethtool) for the OVN provider's traffic tests, and
#                                   mmdebstrap, QEMU (qemu-system-x86, qemu-utils) and
#                                   genisoimage for the amphora image test
#
# lbaas's packages install at the exact versions of constraints.txt (what CI tested; refreshed
# by scripts/refresh-constraints.sh). A second run with unchanged requirement files returns in
# well under a second: the pip step is skipped while a stamp in .venv matches the hash of
# requirements.txt, constraints.txt, test-requirements.txt (with --test), setup.py,
# entry_points.cfg, the checkout's path and the venv's Python.
# .venv-keystone, .venv-barbican (a real Barbican for the barbican certificate manager's tests),
# .venv-tempest (tempest and octavia-tempest-plugin: upstream's API test suite) and
# .venv-neutron (a real Neutron with ML2/OVN for the network backend's tests), .venv-nova (Nova
# and Placement for the nova compute backend's tests) and .venv-glance (Glance, Nova's image
# service there) have stamps of their own. A failed install of one of them is reported and skipped over (its reason is kept
# in .venv-NAME/.lbaas-NAME-failed, which the tests print; they skip, or fail under CI=true).
# LBAAS_SETUP_KEYSTONE=0, LBAAS_SETUP_BARBICAN=0, LBAAS_SETUP_TEMPEST=0,
# LBAAS_SETUP_NEUTRON=0, LBAAS_SETUP_NOVA=0 and LBAAS_SETUP_GLANCE=0 leave one out.
# Progress goes to stderr, so `lbaas serve`'s own output stays clean.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
tests=${LBAAS_SETUP_TESTS:-0}
for arg in "$@"; do
    case $arg in
        --test) tests=1 ;;
        --runtime) tests=0 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "setup: $*" >&2; }
cd "$ROOT"

# Two set-ups at once (say run.sh and test.sh) would race on .venv: take turns.
if command -v flock >/dev/null 2>&1; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi

# --- Debian packages --------------------------------------------------------------------------
apt_updated=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        say "cannot install $* without root: run 'sudo apt-get install -y $*'"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        apt-get -o DPkg::Lock::Timeout=900 -q update >&2
        apt_updated=1
    fi
    say "apt-get install $*"
    apt-get -o DPkg::Lock::Timeout=900 -q install -y --no-install-recommends "$@" >&2
}

pg_present() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id postgres >/dev/null 2>&1 &&
        command -v psql >/dev/null 2>&1
}

# The functional tests start a throwaway PostgreSQL cluster (testbed/pg.py); the embedded
# `lbaas serve` runs on SQLite and needs nothing from apt.
if [ "$tests" = 1 ] && ! pg_present; then
    apt_install postgresql || say "going on without PostgreSQL: its tests skip (and fail in CI)"
fi

# The MySQL-dialect tests start a throwaway MariaDB server the same way (testbed/mariadb.py):
# mariadb-install-db and mariadbd from mariadb-server, the mariadb client from mariadb-client.
if [ "$tests" = 1 ] && { [ ! -x /usr/sbin/mariadbd ] || ! command -v mariadb-install-db \
        >/dev/null 2>&1 || ! command -v mariadb >/dev/null 2>&1; }; then
    apt_install mariadb-server mariadb-client || say "going on without MariaDB: its tests skip" \
        "(and fail in CI)"
fi

# The amphora provider runs HAProxy: `lbaas serve` uses it on its embedded defaults when run
# as root, and the tests validate every rendered config with `haproxy -c`.
if [ "$(id -u)" = 0 ] && ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
    apt_install haproxy || say "going on without HAProxy: lbaas serve falls back to the noop" \
        "provider, its tests skip (and fail in CI)"
fi

# Its UDP/SCTP (LVS) config tests validate every rendered file with `keepalived -t`.
if [ "$tests" = 1 ] && ! command -v keepalived >/dev/null 2>&1 && [ ! -x /usr/sbin/keepalived ]; then
    apt_install keepalived || say "going on without keepalived: its config tests skip (and fail in CI)"
fi

# The OVN provider's traffic tests and python -m bench.ovn start a real OVN stack (testbed/ovn_stack.py):
# OVSDB servers, ovn-northd, ovs-vswitchd (userspace datapath) and ovn-controller; ethtool turns
# TX checksum offload off on its veths. apt starts none of them (policy-rc.d).
ovn_missing=()
for pair in ovn-northd:ovn-central ovn-controller:ovn-host ovs-vswitchd:openvswitch-switch \
        ethtool:ethtool; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [ ! -x "/usr/sbin/${pair%%:*}" ]; then
        ovn_missing+=("${pair#*:}")
    fi
done
if [ "$tests" = 1 ] && [ "${#ovn_missing[@]}" -gt 0 ]; then
    apt_install "${ovn_missing[@]}" || say "going on without OVN/Open vSwitch: the OVN traffic" \
        "tests skip (and fail in CI)"
fi

# The amphora image test (tests/functional/test_amphora_image.py) builds the VM image with
# `lbaas-amphora-image build` (mmdebstrap, mkfs.ext4 -d, qemu-img: no loop device) and boots it
# under QEMU's TCG with a config drive made by genisoimage (docs/amphora.md).
image_missing=()
for pair in mmdebstrap:mmdebstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils \
        genisoimage:genisoimage; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1; then
        image_missing+=("${pair#*:}")
    fi
done
if [ "$tests" = 1 ] && [ "${#image_missing[@]}" -gt 0 ]; then
    apt_install "${image_missing[@]}" || say "going on without mmdebstrap/QEMU: the amphora" \
        "image test skips (and fails in CI)"
fi

# The VM amphora through Nova (tests/functional/test_nova_amphora.py) runs nova-compute's libvirt
# driver on QEMU/TCG: libvirtd and virtlogd (started by the test, not by systemd), and
# libvirt-python in .venv-nova, compiled against libvirt-dev (found through pkg-config).
if [ "$tests" = 1 ] && { [ ! -x /usr/sbin/libvirtd ] || ! pkg-config --exists libvirt \
        2>/dev/null; }; then
    apt_install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-dev pkg-config ||
        say "going on without libvirt: the VM amphora test through Nova skips (and fails in CI)"
fi

# The split-process RPC tests start a throwaway RabbitMQ on loopback (testbed/rabbitmq.py); apt
# starts no service here (policy-rc.d), which is what they want.
if [ "$tests" = 1 ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    apt_install rabbitmq-server || say "going on without RabbitMQ: its tests skip (and fail in CI)"
fi

# --- the virtual environment ------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV" >&2; then
        # Debian's python3 ships venv/ensurepip in a separate package.
        rm -rf "$VENV"
        apt_install python3-venv
        PYTHON=/usr/bin/python3
        "$PYTHON" -m venv "$VENV" >&2
    fi
fi

stamp_key() {  # $1 = 0 (runtime) or 1 (with tests)
    {
        echo "root=$ROOT tests=$1"
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
        cat requirements.txt constraints.txt setup.py entry_points.cfg
        if [ "$1" = 1 ]; then cat test-requirements.txt; fi
    } | sha256sum | cut -d' ' -f1
}
stamp_ok() {  # $1 = 0 or 1: is that set of packages installed?
    [ "$(cat "$VENV/.lbaas-setup-$1" 2>/dev/null)" = "$(stamp_key "$1")" ]
}

# --- OpenStack services and test suites in venvs of their own, never mixed into .venv -------
# Each pins much of the oslo stack; in its own venv it cannot disturb lbaas's packages.
# service_venv NAME CHECK REQ...: install REQ... into .venv-NAME unless its stamp (the
# requirements, the checkout's path and the Python) matches, then run the Python CHECK in it.
# Retries and timeouts per request, a second attempt, and a bound on each attempt, so a flaky
# or stalled index cannot hang CI. On failure the reason is kept in
# .venv-NAME/.lbaas-NAME-failed, which the tests print (they skip, or fail under CI=true).
service_venv() {
    local name=$1 check=$2; shift 2
    local venv=$ROOT/.venv-$name
    local stamp=$venv/.lbaas-$name-stamp failed=$venv/.lbaas-$name-failed
    local log=$venv/pip.log key start=$SECONDS rc=0 attempt
    key=$( { echo "root=$ROOT reqs=$*"
             "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
        say "$venv is up to date"; return 0
    fi
    rm -rf "$venv"
    # The base interpreter of .venv (a venv made from a venv's python uses its base).
    if ! "$VENV/bin/python" -m venv "$venv" >&2; then
        mkdir -p "$venv"; echo "python -m venv $venv failed" >"$failed"; return 1
    fi
    say "pip install $* (into $venv)"
    for attempt in 1 2; do
        rc=0
        timeout 600 "$venv/bin/python" -m pip install --disable-pip-version-check \
            --no-input -q --retries 5 --timeout 60 "$@" >"$log" 2>&1 || rc=$?
        if [ "$rc" = 0 ]; then break; fi
        say "pip install $*: attempt $attempt failed (exit $rc)"
    done
    if [ "$rc" != 0 ]; then
        { echo "pip install $* failed (exit $rc$([ "$rc" = 124 ] &&
              echo ': timed out after 600 s')); the end of $log:"
          grep -v "^WARNING: Location 'file://" "$log" | tail -n 15; } >"$failed"
        return 1
    fi
    if ! "$venv/bin/python" -c "$check" >"$log.check" 2>&1; then
        { echo "$name installed but does not import:"; tail -n 15 "$log.check"; } >"$failed"
        return 1
    fi
    rm -f "$failed" "$log.check"
    echo "$key" >"$stamp"
    say "$name installed in $((SECONDS - start)) s"
}

# service_step NAME SWITCH CHECK REQ...: service_venv unless the environment variable
# SWITCH is 0; a failure is reported and skipped over.
service_step() {
    local name=$1 switch=$2; shift 2
    if [ "${!switch:-1}" = 0 ]; then
        say "$switch=0: not installing $ROOT/.venv-$name"
    elif ! service_venv "$name" "$@"; then
        say "going on without $name: its tests skip (and fail in CI). Reason:"
        sed 's/^/setup:   /' "$ROOT/.venv-$name/.lbaas-$name-failed" >&2 || true
    fi
}

# Keystone for the identity tests: 27 (2025.1) .. 30 (2026.2) support Python 3.11 and
# SQLAlchemy 2; newer majors are untested. keystone.server.wsgi parses sys.argv: emptied.
# psycopg: the tempest run's Keystone is on PostgreSQL.
KEYSTONE=(keystone LBAAS_SETUP_KEYSTONE
          'import sys; sys.argv = sys.argv[:1]; import gunicorn, psycopg, keystone.server.wsgi'
          "keystone>=27.0.0,<31" "gunicorn>=21.0" "psycopg[binary]>=3.1")
# Barbican for the barbican certificate manager's tests: only 23 (2026.1) is tried,
# tests/barbican.py works around its quirks.
BARBICAN=(barbican LBAAS_SETUP_BARBICAN 'import gunicorn, paste.deploy, barbican.api.app'
          "barbican>=23.0.0,<24" "gunicorn>=21.0")
# Neutron for the network backend's tests (testbed/cloud/neutron.py): only 29 is tried; its API is a
# WSGI application only (no eventlet server, no neutron-server script), served by gunicorn;
# PyMySQL for MariaDB, the one database it supports.
NEUTRON=(neutron LBAAS_SETUP_NEUTRON
         'import gunicorn, pymysql, neutron.server.api, neutron.plugins.ml2.plugin'
         "neutron>=29.0.0,<30" "gunicorn>=21.0" "PyMySQL>=1.0")
# Nova and Placement for the nova compute backend's tests (testbed/cloud/nova.py): only Nova 34 and
# Placement 16 (the same release, one venv: their oslo pins agree); both APIs are WSGI
# applications served by gunicorn; PyMySQL for MariaDB.
NOVA=(nova LBAAS_SETUP_NOVA
      'import gunicorn, pymysql, nova.api.openstack.wsgi_app, nova.virt.fake, placement.wsgi'
      "nova>=34.0.0,<35" "openstack-placement>=16.0.0,<17" "gunicorn>=21.0" "PyMySQL>=1.0")
# The libvirt driver's binding, for the VM amphora test, when libvirt-dev is there to build it
# against (a wheel-less sdist: 64 s to compile here).
if pkg-config --exists libvirt 2>/dev/null; then
    NOVA[2]+=', libvirt'
    NOVA+=("libvirt-python>=9.0,<10")
fi
# Glance, Nova's image service in those tests: only 33 (the same release) is tried; its own
# venv (glance_store and its pins are not Nova's).
GLANCE=(glance LBAAS_SETUP_GLANCE 'import gunicorn, pymysql, glance.common.wsgi_app'
        "glance>=33.0.0,<34" "gunicorn>=21.0" "PyMySQL>=1.0")
# Upstream Octavia's API test suite (tests/functional/test_tempest.py), at the versions the
# compatibility target was measured with.
TEMPEST=(tempest LBAAS_SETUP_TEMPEST 'import tempest.cmd.main, octavia_tempest_plugin.plugin'
         "tempest==47.0.0" "octavia-tempest-plugin==3.5.0")

# --- lbaas's own packages ---------------------------------------------------------------------
if stamp_ok 1 || { [ "$tests" = 0 ] && stamp_ok 0; }; then
    say "$VENV is up to date"
else
    args=(-c constraints.txt -e .)   # the exact versions CI tested (constraints.txt)
    if [ "$tests" = 1 ]; then args+=(-r test-requirements.txt); fi
    say "pip install ${args[*]} (into $VENV)"
    start=$SECONDS
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${args[@]}" >&2
    "$VENV/bin/python" -c 'import lbaas' >&2
    rm -f "$VENV/.lbaas-setup-0" "$VENV/.lbaas-setup-1"
    stamp_key "$tests" >"$VENV/.lbaas-setup-$tests"
    say "installed in $((SECONDS - start)) s"
fi

if [ "$tests" = 1 ]; then
    # The service venvs are independent: installed side by side (pip is mostly one core of
    # resolving, downloading and compiling each); each one's lines are shown when all are done.
    steps=(KEYSTONE BARBICAN TEMPEST NEUTRON NOVA GLANCE)
    logs=$(mktemp -d)
    say "installing the services' venvs side by side: ${steps[*],,}"
    for step in "${steps[@]}"; do
        declare -n spec=$step
        service_step "${spec[@]}" 2>"$logs/$step" &
        unset -n spec
    done
    wait
    for step in "${steps[@]}"; do cat "$logs/$step" >&2; done
    rm -rf "$logs"
fi
