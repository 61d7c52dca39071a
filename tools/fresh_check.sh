#!/usr/bin/env bash
# What a new user's machine does: clone this repository into a temporary folder and run
# the README's test command there with xelatex and pandoc hidden from PATH and an empty
# kernel cache. Exit status and the last line say whether it passed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/labsnn-fresh.XXXXXX")"

# PATH without TeX: every command of PATH but xelatex, pandoc and their kin, as links.
mkdir "$scratch/bin"
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  for tool in "$dir"/*; do
    name="$(basename "$tool")"
    case "$name" in xelatex|pandoc|xetex|pdflatex|latex|tex|lualatex) continue ;; esac
    [ -x "$tool" ] && [ ! -e "$scratch/bin/$name" ] && ln -s "$tool" "$scratch/bin/$name"
  done
done

git clone --quiet "$repo" "$scratch/labsnn" || exit 1
cd "$scratch/labsnn" || exit 1
if [ -z "${LABSNN_DATA:-}" ] && [ -d "$repo/../shared/data/MNIST/raw" ]; then
  export LABSNN_DATA="$(cd "$repo/../shared/data" && pwd)"
fi
started=$(date +%s)
PATH="$scratch/bin" LABSNN_KERNEL_CACHE="$scratch/kernels" make test 2>&1 | tee "$scratch/make-test.log"
status=${PIPESTATUS[0]}
seconds=$(( $(date +%s) - started ))
if command -v xelatex >/dev/null || command -v pandoc >/dev/null; then
  echo "labsnn fresh-check: note: this machine has TeX; the clone ran without it on PATH"
fi
if [ "$status" -eq 0 ]; then
  echo "labsnn fresh-check: PASSED in ${seconds} s (fresh clone at $(git -C "$scratch/labsnn" rev-parse --short HEAD))"
  rm -rf "$scratch"
else
  echo "labsnn fresh-check: FAILED (exit $status) after ${seconds} s; the log was $scratch/make-test.log"
fi
exit "$status"
