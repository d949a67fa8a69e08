# .ci/env.sh — sourced by ./ctcf, tests/run and .ci/run: installs what the build needs when it is missing
# (Debian/Ubuntu: LibTorch headers + CMake config, CMake, g++, Maven, npm for bundling the report's NiiVue viewer,
# fonts for the images' labels; with CTCF_TEST_TOOLS=1 also Chromium for the report's browser test) and selects a
# JDK >= 22 as JAVA_HOME. Set CTCF_NO_INSTALL=1 to only check, never install.

ctcf_die() { echo "ctcf setup: $*" >&2; exit 1; }

ctcf_install_missing() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -1)" ]; then
        missing+=(fontconfig fonts-dejavu-core)
    fi
    if [ "${CTCF_TEST_TOOLS:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
        missing+=(chromium)
    fi
    if [ -z "${CMAKE_PREFIX_PATH:-}" ] && ! ls /usr/lib/*/cmake/Torch/TorchConfig.cmake >/dev/null 2>&1 \
        && ! ls /usr/share/cmake/Torch/TorchConfig.cmake >/dev/null 2>&1; then
        missing+=(libtorch-dev)
    fi
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

ctcf_install_missing
ctcf_select_jdk
# Maven's own libraries call sun.misc.Unsafe; JDK 24+ warns about it on every run.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
