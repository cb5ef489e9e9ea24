# Shared by scripts/run and scripts/test: a virtualenv with the pinned requirements, and the
# Debian packages the product uses when they can be installed (root with apt-get).
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> installing Python requirements"
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt

# chromium: browser tests; fonts-wqy-zenhei: Chinese word clouds. Both optional for running the
# product: without the font, Chinese word clouds say so instead of drawing boxes.
SYSTEM_PACKAGES=(chromium fonts-wqy-zenhei)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "==> note: ${missing[*]} not installed (needs root and apt-get); related tests will be skipped"
  fi
fi
