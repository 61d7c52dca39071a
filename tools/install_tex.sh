#!/usr/bin/env bash
# TeX for the report's PDF (xelatex and pandoc): nothing to do where both are on PATH;
# installed with apt-get as root on Debian and Ubuntu; elsewhere one line says what to install.
set -euo pipefail
if command -v xelatex >/dev/null && command -v pandoc >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "labsnn: installing TeX for the PDF: apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@"
  exit 0
fi
echo "labsnn: the PDF needs xelatex and pandoc; install them (Debian/Ubuntu: sudo apt-get install $*), then rerun" >&2
exit 1
