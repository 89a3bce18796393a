#!/usr/bin/env bash
# Fetch the benchmark corpora from Debian's packages into bench/corpora/ (not committed):
#   pg15/      the PostgreSQL 15 manual, 1,169 HTML pages (postgresql-doc-15)
#   mixed/     a mixed English/Chinese manual (see the per-corpus notes below)
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpora downloads
cd downloads
fetch() {  # fetch PACKAGE: download and unpack one Debian package
  local package=$1
  if ! ls "${package}"_*.deb >/dev/null 2>&1; then
    apt-get download "$package" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$package"; }
  fi
  rm -rf "unpacked-$package" && dpkg -x "${package}"_*.deb "unpacked-$package"
}

fetch postgresql-doc-15
rm -rf ../corpora/pg15 && mkdir -p ../corpora/pg15
cp unpacked-postgresql-doc-15/usr/share/doc/postgresql-doc-15/html/*.html ../corpora/pg15/
echo "pg15: $(ls ../corpora/pg15 | wc -l) pages"
