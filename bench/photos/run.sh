#!/usr/bin/env bash
# Photo preparation benchmark: decode, orient, fit to 512×512, encode, for
# 30 phone-size JPEGs — `avatar check --save` against vipsthumbnail and
# ImageMagick. Not part of the tests or CI.
#
#   apt-get install libvips-tools imagemagick hyperfine
#   bash bench/photos/run.sh [RUNS]      # medians in target/bench-photos/*.json
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
work=$PWD/target/bench-photos
inputs=$work/inputs
mkdir -p "$work"

# The ImageMagick on PATH may be a stand-in; use Debian's own when present.
convert=/usr/bin/convert
[ -x "$convert" ] || convert=$(command -v convert)

cargo build --release --quiet --bin avatar --example bench-photos-inputs
if [ "$(ls "$inputs"/*.jpg 2>/dev/null | wc -l)" -ne 30 ]; then
    rm -rf "$inputs"
    ./target/release/examples/bench-photos-inputs "$inputs"
fi
# The inputs are deterministic: this digest is the same on every machine.
echo "inputs: $(cat "$inputs"/*.jpg | sha256sum | cut -c1-16), $(du -sh "$inputs" | cut -f1) in 30 files"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "versions: $(vipsthumbnail --vips-version 2>/dev/null || vips --version), $("$convert" -version | head -1 | cut -d' ' -f2-3)"

out=$work/out
prepare="rm -rf $out; mkdir -p $out/avatar $out/vips $out/vips2 $out/magick"
hyperfine --warmup 1 --runs "$runs" --prepare "$prepare" \
    --export-json "$work/results.json" --export-markdown "$work/results.md" \
    -n avatar "./target/release/avatar -q check --save $out/avatar $inputs" \
    -n vipsthumbnail "vipsthumbnail --size 512x512 -o $out/vips/%s.jpg $inputs/*.jpg" \
    -n "vipsthumbnail (2 at once)" "ls $inputs/*.jpg | xargs -P 2 -n 15 vipsthumbnail --size 512x512 -o $out/vips2/%s.jpg" \
    -n "convert -resize 512x512" "for f in $inputs/*.jpg; do $convert \"\$f\" -resize 512x512 $out/magick/\$(basename \"\$f\"); done"

python3 - "$work/results.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours = results["avatar"]["median"]
for name, r in results.items():
    print(f"{name:28} median {r['median']:.3f} s   avatar/this = {ours / r['median']:.2f}x")
PY
