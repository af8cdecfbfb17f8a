#!/bin/sh
# Install the Debian packages heaptrail needs that are missing.
#   scripts/install-deps.sh build   what building needs
#   scripts/install-deps.sh test    that, plus what the test suite drives
#   scripts/install-deps.sh bench   that, plus the tools the benchmarks compare with
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

build="build-essential cmake pkg-config libzstd-dev libdw-dev libelf-dev libunwind-dev zlib1g-dev libsqlite3-dev"
test="$build libcmocka-dev clang valgrind python3 sqlite3 gcc jq procps golang-go babeltrace2 heaptrack libxml2-utils git chromium"
bench="$test heaptrack lttng-tools liblttng-ust-dev libmimalloc-dev libjemalloc-dev libtcmalloc-minimal4 time"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=
for p in $want; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "heaptrail needs these Debian packages:$missing" >&2
    echo "Install them as root, then run make again:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
