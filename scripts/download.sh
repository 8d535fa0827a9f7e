#!/usr/bin/env bash
# Downloads the data and the pretrained model the example programs use, for machines with internet access
# (CI never runs this; the project's own runs use ../shared/data when present):
#
#   GoEmotions               DEST/goemotions/{train,dev,test}.tsv, emotions.txt
#                            from github.com/google-research/google-research (goemotions/data), CC BY 4.0
#   distilbert-base-uncased  DEST/distilbert-base-uncased/{config.json, model.safetensors, vocab.txt,
#                            tokenizer.json, tokenizer_config.json} from the Hugging Face hub, Apache 2.0
#
# Usage: scripts/download.sh [--goemotions] [--distilbert] [--force] [DEST]      (DEST defaults to ./data)
#   With neither --goemotions nor --distilbert it fetches both. Files already present are kept unless --force.
#   Environment: HF_ENDPOINT (default https://huggingface.co), DISTILBERT_REPO (default
#   distilbert/distilbert-base-uncased), DISTILBERT_REVISION (default main), GOEMOTIONS_URL (the folder).
# Prints the SHA-256 of every file. The GoEmotions sums are compared with the copy this project was
# tested with (../shared/data/goemotions); a difference is reported, not fatal.
set -euo pipefail

want_goemotions=0
want_distilbert=0
force=0
dest=data
for arg in "$@"; do
  case "$arg" in
    --goemotions) want_goemotions=1 ;;
    --distilbert) want_distilbert=1 ;;
    --force) force=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "error: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) dest=$arg ;;
  esac
done
if [ "$want_goemotions" = 0 ] && [ "$want_distilbert" = 0 ]; then
  want_goemotions=1
  want_distilbert=1
fi

goemotions_url=${GOEMOTIONS_URL:-https://raw.githubusercontent.com/google-research/google-research/master/goemotions/data}
hf_endpoint=${HF_ENDPOINT:-https://huggingface.co}
distilbert_repo=${DISTILBERT_REPO:-distilbert/distilbert-base-uncased}
distilbert_revision=${DISTILBERT_REVISION:-main}

if command -v curl >/dev/null 2>&1; then
  fetch() { curl --fail --location --retry 3 --silent --show-error --output "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget --quiet --tries=3 --output-document="$2" "$1"; }
else
  echo "error: needs curl or wget" >&2
  exit 2
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
else
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
fi

# get URL FILE [EXPECTED_SHA256]: download to FILE.part, then rename, so an interrupted run leaves no
# truncated file under the final name; print the checksum.
get() {
  local url=$1 out=$2 expected=${3:-}
  if [ -s "$out" ] && [ "$force" = 0 ]; then
    echo "kept        $out"
  else
    echo "downloading $url" >&2
    rm -f "$out.part"
    if ! fetch "$url" "$out.part"; then
      rm -f "$out.part"
      echo "error: could not download $url" >&2
      exit 1
    fi
    mv "$out.part" "$out"
  fi
  local sum
  sum=$(sha256 "$out")
  echo "sha256 $sum  $out"
  if [ -n "$expected" ] && [ "$sum" != "$expected" ]; then
    echo "note: $out differs from the copy this project was tested with (sha256 $expected)" >&2
  fi
}

if [ "$want_goemotions" = 1 ]; then
  dir=$dest/goemotions
  mkdir -p "$dir"
  get "$goemotions_url/train.tsv" "$dir/train.tsv" 1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5
  get "$goemotions_url/dev.tsv" "$dir/dev.tsv" 575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62
  get "$goemotions_url/test.tsv" "$dir/test.tsv" 0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4
  get "$goemotions_url/emotions.txt" "$dir/emotions.txt"
  echo "GoEmotions: $dir ($(grep -c "" "$dir/train.tsv") train, $(grep -c "" "$dir/dev.tsv") dev, $(grep -c "" "$dir/test.tsv") test rows, $(grep -c "" "$dir/emotions.txt") labels)"
fi

if [ "$want_distilbert" = 1 ]; then
  dir=$dest/distilbert-base-uncased
  mkdir -p "$dir"
  for f in config.json vocab.txt tokenizer.json tokenizer_config.json model.safetensors; do
    get "$hf_endpoint/$distilbert_repo/resolve/$distilbert_revision/$f" "$dir/$f"
  done
  echo "distilbert-base-uncased: $dir"
fi

echo
echo "next: build/examples/goemotions --data $dest/goemotions --model $dest/distilbert-base-uncased"
