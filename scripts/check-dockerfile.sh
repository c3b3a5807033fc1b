#!/bin/sh
# Checks the Dockerfile without a Docker engine, as far as that goes:
#  1. the build stage installs the packages scripts/setup-debian.sh (and CI) install, except the
#     ones only the fuzz and browser tests need;
#  2. the runtime stage installs every package that owns a shared library the built core-rd and
#     rdctl link directly (readelf NEEDED, ldd, dpkg -S), unless the base image has it;
#  3. the build stage's `cmake --install ... --prefix P` layout holds the files ENTRYPOINT and
#     CMD name (installed here into a temporary P).
# With DOCKERFILE_RUN_BUILD=1 it also runs the build stage's cmake RUN line itself (slow: a full
# build and ctest) in a temporary copy of the tree.
# Usage: check-dockerfile.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
df="$src/Dockerfile"
fail=0
bad() { echo "check-dockerfile: $*"; fail=1; }

# Packages named by the apt-get install of one stage (1: build, 2: runtime).
stage_pkgs() {
    awk -v want="$1" '/^FROM /{n++} n==want' "$df" | tr '\\' ' ' | tr '\n' ' ' |
        sed 's/&&/\n/g' | grep 'apt-get install' | tr ' ' '\n' |
        grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install)$' | sort -u
}

# Test-only packages the image does not need: libFuzzer (clang) and the browser test.
not_in_image="clang libclang-rt-14-dev chromium"
setup=$(sed -n '/^pkgs="/,/"$/p' "$src/scripts/setup-debian.sh" | tr -d '"' | sed 's/^pkgs=//' |
    tr ' ' '\n' | grep . | sort -u)
build_pkgs=$(stage_pkgs 1)
for p in $setup; do
    case " $not_in_image " in *" $p "*) continue ;; esac
    echo "$build_pkgs" | grep -qx "$p" || bad "build stage lacks $p (setup-debian.sh installs it)"
done
for p in $build_pkgs; do
    echo "$setup" | grep -qx "$p" || bad "build stage installs $p, which setup-debian.sh does not"
done
ci=$(tr '\\' ' ' <"$src/.ci/run" | tr '\n' ' ' | sed 's/.*apt-get install -y --no-install-recommends//' |
    sed 's/\.\/scripts.*//' | tr ' ' '\n' | grep . | sort -u)
# .ci/run leaves nodejs and npm to setup-debian.sh, which skips them where a node is installed.
setup_ci=$(echo "$setup" | grep -vxE 'nodejs|npm')
[ "$ci" = "$setup_ci" ] || bad ".ci/run and setup-debian.sh install different packages"

runtime=$(stage_pkgs 2)
base_image="libc6 libgcc-s1"
for bin in "$build/rd/core-rd" "$build/ctl/rdctl"; do
    # Libraries the binary names itself (NEEDED); theirs come with their packages' dependencies.
    for name in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        lib=$(ldd "$bin" | awk -v n="$name" '$1 == n {print $3}')
        [ -n "$lib" ] || { bad "$name (needed by $bin) not found"; continue; }
        real=$(readlink -f "$lib")
        pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null)
        pkg=$(echo "$pkg" | head -n 1 | cut -d: -f1)
        [ -n "$pkg" ] || { bad "$lib (used by $bin) belongs to no package"; continue; }
        # The base image (debian:bookworm-slim) has the C library and the required packages;
        # sanitizer runtimes only come with a -DRD_SANITIZE=ON build, which the image never is.
        case " $base_image " in *" $pkg "*) continue ;; esac
        case "$pkg" in libasan* | libubsan*) continue ;; esac
        [ "$(dpkg-query -W -f='${Priority}' "$pkg" 2>/dev/null)" = required ] && continue
        echo "$runtime" | grep -qx "$pkg" || bad "runtime stage lacks $pkg (for $lib of $(basename "$bin"))"
    done
done

prefix=$(awk '/cmake --install/ {for (i = 1; i < NF; i++) if ($i == "--prefix") print $(i + 1)}' "$df")
[ -n "$prefix" ] || bad "no cmake --install --prefix in the build stage"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/p" >/dev/null || bad "cmake --install failed"
for f in $(grep -E '^(ENTRYPOINT|CMD)' "$df" | grep -oE "\"$prefix/[^\"]+\""); do
    f=$(echo "$f" | tr -d '"')
    [ -e "$tmp/p${f#"$prefix"}" ] || bad "$f (ENTRYPOINT/CMD) is not in the installed tree"
done

if [ "${DOCKERFILE_RUN_BUILD:-0}" = 1 ]; then
    line=$(awk '/^FROM /{n++} n==1' "$df" | sed -n '/^RUN cmake/,/[^\\]$/p' | sed 's/^RUN //' |
        tr -d '\\' | tr '\n' ' ' | sed "s#$prefix#$tmp/opt#g")
    mkdir -p "$tmp/src"
    (cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$tmp/src")
    # The copy's own dockerfile test must not start another copy.
    (cd "$tmp/src" && env -u DOCKERFILE_RUN_BUILD sh -c "$line") ||
        bad "the build stage's RUN line failed: $line"
fi
[ "$fail" = 0 ] && echo "check-dockerfile: ok"
exit $fail
