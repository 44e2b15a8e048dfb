#!/usr/bin/env bash
# Debian's bubblewrap: learner kernel submissions run inside it (portal/labs/kernels/grading).
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "install-sandbox: bwrap is missing and this is not root; run: sudo apt-get install -y bubblewrap" >&2
  echo "install-sandbox: until then kernel submissions are refused (no sandbox)" >&2
  exit 0
fi
echo "install-sandbox: installing Debian's bubblewrap (one time, a few seconds)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq bubblewrap >/dev/null
