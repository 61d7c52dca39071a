#!/usr/bin/env bash
# What a new user's machine does: clone this repository into a temporary folder and run
# the README's test command there with xelatex and pandoc hidden from PATH and an empty
# kernel cache. Exit status and the last line say whether it passed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/labsnn-fresh.XXXXXX")"

# PATH without TeX: each PATH folder that holds a TeX tool is replaced by a folder of links
# to its other commands; every other folder stays, in order.
tex="xelatex pandoc xetex pdflatex latex tex lualatex"
fresh_path=""
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [ -n "$dir" ] && [ -d "$dir" ] || continue
  hidden=""
  for tool in $tex; do [ -e "$dir/$tool" ] && hidden=1; done
  if [ -n "$hidden" ]; then
    farm="$scratch/path$(echo "$dir" | tr / _)"
    mkdir -p "$farm"
    for entry in "$dir"/*; do
      name="$(basename "$entry")"
      case " $tex " in *" $name "*) continue ;; esac
      ln -s "$entry" "$farm/$name" 2>/dev/null
    done
    dir="$farm"
  fi
  fresh_path="${fresh_path:+$fresh_path:}$dir"
done
# what a new user's shell would not have set
unset LABSNN_SCHEDULER DASK_SCHEDULER_ADDRESS LABSNN_MARCH LABSNN_KERNEL_CACHE CC

git clone --quiet "$repo" "$scratch/labsnn" || exit 1
cd "$scratch/labsnn" || exit 1
if [ -z "${LABSNN_DATA:-}" ] && [ -d "$repo/../shared/data/MNIST/raw" ]; then
  export LABSNN_DATA="$(cd "$repo/../shared/data" && pwd)"
fi
started=$(date +%s)
PATH="$fresh_path" LABSNN_KERNEL_CACHE="$scratch/kernels" make test 2>&1 | tee "$scratch/make-test.log"
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
