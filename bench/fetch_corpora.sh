#!/usr/bin/env bash
# Fetch the benchmark corpora from Debian's packages into bench/corpora/ (not committed):
#   pg15/      the PostgreSQL 15 manual, 1,169 HTML pages (postgresql-doc-15)
#   mixed/     the Debian Reference in English and Simplified Chinese, 14 chapter pages each
#              (debian-reference-en, debian-reference-zh-cn): en/*.en.html and zh/*.zh-cn.html
#   pdf/       English PDF manuals: glpk.pdf, gmpl.pdf, graphs.pdf, cnfsat.pdf (glpk-doc) and
#              gnuplot.pdf (gnuplot-doc)
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

# The Debian Reference ships one HTML page per chapter (ch01..ch12), the preface (pr01) and the
# appendix (apa) per language; index.*.html is only a table of contents, so it is left out.
fetch debian-reference-en
fetch debian-reference-zh-cn
rm -rf ../corpora/mixed && mkdir -p ../corpora/mixed/en ../corpora/mixed/zh
for lang in en zh-cn; do
  src=unpacked-debian-reference-$lang/usr/share/debian-reference
  cp "$src"/ch*."$lang".html "$src"/pr01."$lang".html "$src"/apa."$lang".html \
    ../corpora/mixed/"${lang%%-*}"/
done
echo "mixed: $(ls ../corpora/mixed/en | wc -l) en + $(ls ../corpora/mixed/zh | wc -l) zh pages"

# English PDF manuals, flat, for page-level gold (FILE.pdf#pN): four GLPK manuals and the gnuplot
# manual. glpk-doc also ships Spanish and Brazilian Portuguese GMPL translations; they are left out.
fetch glpk-doc
fetch gnuplot-doc
rm -rf ../corpora/pdf && mkdir -p ../corpora/pdf
for name in glpk gmpl graphs cnfsat; do
  cp unpacked-glpk-doc/usr/share/doc/glpk-doc/"$name".pdf ../corpora/pdf/
done
cp unpacked-gnuplot-doc/usr/share/doc/gnuplot/gnuplot.pdf ../corpora/pdf/
echo "pdf: $(ls ../corpora/pdf | wc -l) PDF manuals"
