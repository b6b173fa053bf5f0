#!/usr/bin/env bash
# Installs the system packages MovieRec links against (OpenBLAS, LAPACKE, ISA-L, pkg-config) when missing.
# Debian/Ubuntu only; run as root or with sudo available.
set -euo pipefail
if command -v pkg-config >/dev/null && pkg-config --exists openblas lapacke libisal 2>/dev/null; then
  exit 0
fi
packages=(libopenblas-dev liblapacke-dev libisal-dev pkg-config)
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install ${packages[*]} as root (apt-get install)" >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing ${packages[*]} ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
