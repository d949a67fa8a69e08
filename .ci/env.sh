# .ci/env.sh — sourced by ./ctcf, tests/run and .ci/run: installs what the build needs when it is missing
# (Debian/Ubuntu: CMake, g++, Maven, unzip, npm (with node) for bundling the report's NiiVue viewer and Chart.js,
# fonts for the images' labels; with CTCF_TEST_TOOLS=1 also Chromium and node for the browser tests, whose
# playwright-core Maven installs from tests/browser/package-lock.json, and dicom3tools, dcmtk, dcm2niix and
# python3-pydicom for the DICOM writer's tests), selects a JDK >= 22 as JAVA_HOME and
# finds a LibTorch 2.x (ctcf_find_libtorch; exported as CTCF_CMAKE_ARGS for Maven's cmake.args).
# Set CTCF_NO_INSTALL=1 to only check, never install.

ctcf_die() { echo "ctcf setup: $*" >&2; exit 1; }

ctcf_install_missing() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if [ "${CTCF_TEST_TOOLS:-0}" = 1 ] && ! command -v node >/dev/null 2>&1; then
        missing+=(nodejs)
    fi
    if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -1)" ]; then
        missing+=(fontconfig fonts-dejavu-core)
    fi
    if [ "${CTCF_TEST_TOOLS:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
        missing+=(chromium)
    fi
    # the DICOM tests check ctcf's reader and writer against independent tools: dicom3tools' dciodvfy, dcmtk's dcmdump,
    # pydicom (for /usr/bin/python3) and dcm2niix
    if [ "${CTCF_TEST_TOOLS:-0}" = 1 ]; then
        command -v dciodvfy >/dev/null 2>&1 || missing+=(dicom3tools)
        command -v dcmdump >/dev/null 2>&1 || missing+=(dcmtk)
        command -v dcm2niix >/dev/null 2>&1 || missing+=(dcm2niix)
        /usr/bin/python3 -c 'import pydicom' >/dev/null 2>&1 || missing+=(python3-pydicom)
    fi
    command -v unzip >/dev/null 2>&1 || missing+=(unzip)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "${CTCF_NO_INSTALL:-0}" = 1 ] && ctcf_die "missing: ${missing[*]} (CTCF_NO_INSTALL=1 set, not installing)"
    command -v apt-get >/dev/null 2>&1 || ctcf_die "missing: ${missing[*]}; install them (LibTorch: see README)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || ctcf_die "missing: ${missing[*]}; run as root or install them"
        sudo=sudo
    fi
    echo "ctcf setup: installing ${missing[*]} with apt-get" >&2
    $sudo apt-get update -qq >&2 || ctcf_die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2 \
        || ctcf_die "apt-get install ${missing[*]} failed"
}

# The browser tests' playwright-core needs node >= 20 (Debian 12's nodejs is 18: use Debian 13, or NodeSource's
# nodejs 20+); only a warning, the browser tests then fail with the reason under CTCF_TEST_TOOLS=1.
ctcf_check_node() {
    [ "${CTCF_TEST_TOOLS:-0}" = 1 ] || return 0
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
    if ! [ "${major:-0}" -ge 20 ] 2>/dev/null; then
        echo "ctcf setup: node ${major:-missing} is too old for the browser tests (playwright-core needs node >= 20;" \
            "Debian 12's nodejs is 18: install nodejs 20+ from Debian 13 or NodeSource)" >&2
    fi
}

ctcf_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

ctcf_select_jdk() {
    local candidates=()
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 /usr/lib/jvm/java-25-openjdk-amd64)
    for d in /usr/lib/jvm/*; do candidates+=("$d"); done
    local c major
    for c in "${candidates[@]}"; do
        [ -x "$c/bin/javac" ] || continue
        major=$(ctcf_java_major "$c")
        if [ -n "$major" ] && [ "$major" -ge 22 ] 2>/dev/null; then
            export JAVA_HOME="$c"
            export PATH="$JAVA_HOME/bin:$PATH"
            return 0
        fi
    done
    ctcf_die "no JDK >= 22 found (ctcf needs the Foreign Function & Memory API; JDK 25 recommended). Looked in JAVA_HOME and /usr/lib/jvm. Install one and set JAVA_HOME."
}

# The LibTorch the kernel builds against, in this order: CMAKE_PREFIX_PATH or CTCF_LIBTORCH (a folder holding
# share/cmake/Torch, e.g. the official zip's libtorch/ or a wheel's torch/); the torch python3 imports (2.x only);
# a LibTorch ctcf unpacked before ($CTCF_CACHE/libtorch/VERSION); else `pip download --no-deps torch==VERSION`
# (CTCF_TORCH_VERSION, default 2.13.0+cpu) unpacked there: only torch/include, torch/lib and torch/share of the
# wheel (a zip), no Python environment. Sets CTCF_TORCH_PREFIX and CTCF_CMAKE_ARGS.
ctcf_torch_config_dir() {  # prefix -> the folder holding TorchConfig.cmake (wheel/zip: share/cmake/Torch; Debian: cmake/Torch)
    local d
    for d in "$1/share/cmake/Torch" "$1/cmake/Torch" "$1/lib/cmake/Torch"; do
        [ -f "$d/TorchConfig.cmake" ] && { echo "$d"; return 0; }
    done
    return 1
}

ctcf_torch_version_of() {  # prefix -> "2.13.0" from its TorchConfigVersion.cmake, or empty
    local d; d=$(ctcf_torch_config_dir "$1") || return 0
    sed -n 's/^set(PACKAGE_VERSION "\([0-9.]*\).*/\1/p' "$d/TorchConfigVersion.cmake" 2>/dev/null | head -1
}

ctcf_find_libtorch() {
    local want="${CTCF_TORCH_VERSION:-2.13.0+cpu}" cache="${CTCF_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ctcf}"
    local prefix="" from=""
    if [ -n "${CTCF_LIBTORCH:-}" ]; then
        prefix="$CTCF_LIBTORCH"; from="CTCF_LIBTORCH"
    elif [ -n "${CMAKE_PREFIX_PATH:-}" ]; then
        prefix="${CMAKE_PREFIX_PATH%%:*}"; from="CMAKE_PREFIX_PATH"
        case "$prefix" in */share/cmake) prefix="${prefix%/share/cmake}" ;; esac
    else
        local py
        py=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null || true)
        if [ -n "$py" ] && [ -f "$py/share/cmake/Torch/TorchConfig.cmake" ]; then
            local v; v=$(ctcf_torch_version_of "$py")
            if [ "${v%%.*}" -ge 2 ] 2>/dev/null; then
                prefix="$py"; from="python3's torch"
            else
                echo "ctcf setup: python3's torch ${v:-?} ($py) is older than 2.0; not using it" >&2
            fi
        fi
        if [ -z "$prefix" ] && [ -f "$cache/libtorch/$want/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
            prefix="$cache/libtorch/$want/torch"; from="the cache"
        fi
        if [ -z "$prefix" ]; then
            [ "${CTCF_NO_INSTALL:-0}" = 1 ] && ctcf_die "no LibTorch 2.x found (CMAKE_PREFIX_PATH, CTCF_LIBTORCH, python3's torch, $cache/libtorch) and CTCF_NO_INSTALL=1 forbids fetching torch==$want"
            command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 \
                || ctcf_die "no LibTorch 2.x found, and no pip to fetch one: install pip (apt-get install python3-pip), or download the LibTorch zip and set CTCF_LIBTORCH=/path/to/libtorch"
            local tmp; tmp=$(mktemp -d)
            echo "ctcf setup: fetching LibTorch (pip download --no-deps torch==$want; unpacking include, lib, share)" >&2
            if ! python3 -m pip download -q --no-deps "torch==$want" -d "$tmp" >&2; then
                rm -rf "$tmp"
                ctcf_die "pip download torch==$want failed. On a machine with internet: pip download --no-deps torch==2.13.0+cpu --index-url https://download.pytorch.org/whl/cpu (or a CUDA build), then set CTCF_LIBTORCH to its unpacked torch/ folder; or set CTCF_TORCH_VERSION to a version your index serves"
            fi
            mkdir -p "$cache/libtorch/$want.partial"
            unzip -q -o "$tmp"/torch-*.whl 'torch/include/*' 'torch/lib/*' 'torch/share/*' -d "$cache/libtorch/$want.partial" \
                || { rm -rf "$tmp" "$cache/libtorch/$want.partial"; ctcf_die "unpacking the torch wheel failed"; }
            rm -rf "$tmp" "$cache/libtorch/$want"
            mv "$cache/libtorch/$want.partial" "$cache/libtorch/$want"
            prefix="$cache/libtorch/$want/torch"; from="pip download torch==$want"
        fi
    fi
    ctcf_torch_config_dir "$prefix" >/dev/null \
        || ctcf_die "$from points at $prefix, which holds no share/cmake/Torch/TorchConfig.cmake (a LibTorch zip's libtorch/ folder or a torch wheel's torch/ folder is needed)"
    local v; v=$(ctcf_torch_version_of "$prefix")
    if ! [ "${v%%.*}" -ge 2 ] 2>/dev/null; then
        [ "${CTCF_ALLOW_OLD_TORCH:-0}" = 1 ] \
            || ctcf_die "the LibTorch at $prefix ($from) is version ${v:-unknown}; ctcf needs 2.x (TorchScript files saved by a current PyTorch need it). Set CTCF_ALLOW_OLD_TORCH=1 to build against it anyway (unsupported)"
    fi
    export CTCF_TORCH_PREFIX="$prefix"
    export CTCF_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$prefix -DTorch_DIR=$(ctcf_torch_config_dir "$prefix") ${CTCF_EXTRA_CMAKE_ARGS:-}"
    # CMake caches the LibTorch it found: a build folder made against another one starts afresh
    if [ -d target/native ] && [ "$(cat target/.libtorch 2>/dev/null)" != "$prefix" ]; then
        rm -rf target/native target/classes/native
    fi
    mkdir -p target && echo "$prefix" > target/.libtorch
    [ "${CTCF_QUIET_SETUP:-0}" = 1 ] || echo "ctcf setup: LibTorch ${v:-?} from $from ($prefix)" >&2
}

ctcf_install_missing
ctcf_check_node
ctcf_select_jdk
ctcf_find_libtorch
# Maven's own libraries call sun.misc.Unsafe; JDK 24+ warns about it on every run.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
