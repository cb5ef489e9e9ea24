# Shared by scripts/run and scripts/test: a virtualenv with what the product needs to run
# (requirements.txt) and the Debian package it uses when it can be installed (root with apt-get).
# scripts/test adds the test tools and Chromium on top (system_packages_install, below).
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
# --prefer-binary: a wheel of an older patch release rather than building a source release.
pip_install() { .venv/bin/pip install --quiet --disable-pip-version-check --prefer-binary "$@"; }

# Debian packages, when missing and installable: "name: why" for the note when they are not.
system_packages_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "==> note: ${missing[*]} not installed (needs root and apt-get)"
  fi
}

echo "==> installing Python requirements (requirements.txt)"
pip_install -r requirements.txt
# fonts-wqy-zenhei: Chinese word clouds. Optional: without the font, Chinese word clouds say so
# instead of drawing boxes.
system_packages_install fonts-wqy-zenhei
