#!/usr/bin/env bash
# Builds a Python base image from Debian packages alone (debootstrap + docker import), for machines
# that can reach a Debian mirror but no container registry. The result stands in for the official
# python:3.11-slim-bookworm: same Debian release, python3/python at /usr/local/bin, pip available
# through `python3 -m venv`, LANG=C.UTF-8. Differences: the interpreter is Debian's python3.11 (stdlib
# under /usr/lib/python3.11), and there is no system-wide pip (PEP 668 forbids it on Debian anyway).
#
# usage: base-image.sh TAG     (env: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR)
set -euo pipefail

tag=${1:?usage: base-image.sh TAG}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

rootfs=$(mktemp -d /tmp/shmpipe-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"

# Packages go in with apt inside the chroot rather than debootstrap --include, whose resolver misses
# some dependencies. The extra suites bring security and point-release updates.
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
# python3.11-venv brings ensurepip, so the image can bootstrap pip (and uv) like the official one;
# ca-certificates, tzdata and netbase are what the official slim image adds on top of Debian.
chroot "$rootfs" sh -euc '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get upgrade -y -qq
  apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv ca-certificates tzdata netbase
  apt-get clean'

# Where the official image puts its interpreter, so Dockerfiles run unchanged on both bases.
for name in python3 python python3.11; do
  ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/$name"
done

# Nothing at run time reads docs, man pages or apt indexes; they only add size.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/tmp/* "$rootfs"/dev/*

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag"
echo "built $tag"
