#!/usr/bin/env bash
# Build the kernel's own scripts/gendwarfksyms (the reference implementation
# batchver must agree with) from Debian's packaged kernel source, without
# touching the system's apt sources.
#
# What it does (all of it was verified on Debian 12 bookworm, amd64):
#   1. Creates a private apt configuration (APT_CONFIG in a temp dir) whose
#      only sources are SUITES (trixie-backports and sid) on the Debian
#      archive the system's own apt sources use, signed by the stock
#      debian-archive-keyring, and runs `apt-get update` on it.  The system's
#      /etc/apt/sources.list* and lists are left alone.  (No Debian
#      linux-kbuild-* package ships a gendwarfksyms binary, so the tool has
#      to be built from source.)
#   2. `apt-get download`s linux-source-7.3 (pinned to 7.3.4-1~bpo13+1 by
#      default; linux-source-7.2 7.2.13-1 from sid has byte-identical
#      scripts/gendwarfksyms) into $CACHE/debs.
#   3. Unpacks only scripts/gendwarfksyms/ and scripts/include/ from the
#      source tarball into $CACHE/src-<version>.
#   4. Installs the bookworm build deps if missing (gcc libdw-dev libelf-dev
#      zlib1g-dev xz-utils; needs root) and compiles the seven C files
#      directly with gcc, with the kernel's host CFLAGS.
#   5. Installs the binary as $CACHE/gendwarfksyms and checks its output
#      against the upstream outputs recorded in the repository's
#      tests/data/corpus/fixtures.
#
# Usage: tools/fetch/get_upstream_gendwarfksyms.sh [--force] [--no-test]
# Prints the binary's path.  Environment overrides:
#   CACHE=DIR                      where debs, sources and the binary go
#                                  (default $XDG_CACHE_HOME/batchver/upstream,
#                                  else ~/.cache/batchver/upstream)
#   MIRROR=URI                     Debian archive to download from (default:
#                                  the one the system's apt sources use, the
#                                  entry apt labels "Debian")
#   SRC_PKG=linux-source-7.3       Debian source package to use
#   SRC_VERSION=7.3.4-1~bpo13+1    its version; "any" = newest available
#                                  (if the pinned version has left the
#                                  archive, the newest is used with a warning)
#   SUITES="trixie-backports sid"  suites for the private apt config
#   CORPUS=DIR                     fixture corpus for the self-test (default
#                                  the repository's tests/data/corpus)
set -euo pipefail

CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/batchver/upstream}
SRC_PKG=${SRC_PKG:-linux-source-7.3}
SRC_VERSION=${SRC_VERSION:-7.3.4-1~bpo13+1}
SUITES=${SUITES:-"trixie-backports sid"}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=${CORPUS:-$HERE/../../tests/data/corpus}

FORCE=0
RUN_TEST=1
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        --no-test) RUN_TEST=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { echo "[get_upstream_gendwarfksyms] $*" >&2; }
die() { log "error: $*"; exit 1; }

BIN=$CACHE/gendwarfksyms

selftest() {
    local fx=$CORPUS/fixtures
    if [ ! -d "$fx/expected" ]; then
        log "fixture corpus not found at $fx; skipping self-test"
        return 0
    fi
    local tmp fail=0 n=0 o b opt sfx
    tmp=$(mktemp -d)
    for o in "$fx"/*.o; do
        b=$(basename "$o" .o)
        [ -f "$fx/expected/$b.exports" ] || continue
        for opt in "" "-s"; do
            sfx=; [ -n "$opt" ] && sfx=.stable
            n=$((n + 1))
            if ! "$BIN" $opt -T "$tmp/t.symtypes" "$o" \
                    < "$fx/expected/$b.exports" > "$tmp/t.symver" \
               || ! cmp -s "$tmp/t.symver" "$fx/expected/$b$sfx.symver" \
               || ! cmp -s "$tmp/t.symtypes" "$fx/expected/$b$sfx.symtypes"; then
                log "self-test MISMATCH: $b ${opt:-(plain)}"
                fail=$((fail + 1))
            fi
        done
    done
    rm -rf "$tmp"
    log "self-test: $n runs, $fail mismatches against $fx/expected"
    [ "$fail" -eq 0 ]
}

if [ -x "$BIN" ] && [ "$FORCE" -eq 0 ] && "$BIN" --help >/dev/null 2>&1; then
    log "$BIN already exists ($(cat "$BIN.version" 2>/dev/null || echo unknown version)); use --force to rebuild"
    if [ "$RUN_TEST" -eq 1 ]; then selftest; fi
    echo "$BIN"
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get not found (Debian system required)"
[ -r "$KEYRING" ] || die "$KEYRING missing (install debian-archive-keyring)"

# The Debian archive of the system's apt sources: the entry whose Release
# file is labelled "Debian" (security and backports archives carry other
# labels); without downloaded Release files, the first non-security entry.
system_mirror() {
    local uri
    uri=$(apt-get indextargets --format '$(LABEL) $(REPO_URI)' 2>/dev/null \
          | awk '$1 == "Debian" {print $2; exit}')
    if [ -z "$uri" ]; then
        uri=$(apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
              | awk '$1 !~ /-security$/ {print $2; exit}')
    fi
    echo "${uri%/}"
}
MIRROR=${MIRROR:-$(system_mirror)}
[ -n "$MIRROR" ] || die "no Debian archive in the system's apt sources; set MIRROR=URI"
log "Debian archive: $MIRROR"

# --- 1. private apt configuration --------------------------------------------
APTDIR=$(mktemp -d -t gdk-apt.XXXXXX)
trap 'rm -rf "$APTDIR"' EXIT
mkdir -p "$APTDIR"/etc/sources.list.d "$APTDIR"/etc/preferences.d \
         "$APTDIR"/state/lists/partial "$APTDIR"/cache/archives/partial
for s in $SUITES; do
    echo "deb [signed-by=$KEYRING] $MIRROR $s main"
done > "$APTDIR/etc/sources.list"
cat > "$APTDIR/apt.conf" <<EOF
Dir::Etc::SourceList "$APTDIR/etc/sources.list";
Dir::Etc::SourceParts "$APTDIR/etc/sources.list.d";
Dir::Etc::Preferences "$APTDIR/etc/preferences";
Dir::Etc::PreferencesParts "$APTDIR/etc/preferences.d";
Dir::State "$APTDIR/state";
Dir::State::Lists "$APTDIR/state/lists";
Dir::State::status "/var/lib/dpkg/status";
Dir::Cache "$APTDIR/cache";
APT::Architecture "amd64";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
xapt() { APT_CONFIG="$APTDIR/apt.conf" "$@"; }

log "apt-get update on private config (suites: $SUITES)"
xapt apt-get -q update >"$APTDIR/update.log" 2>&1 \
    || { cat "$APTDIR/update.log" >&2; die "apt-get update for $SUITES failed"; }

# --- 2. download the kernel source package -----------------------------------
available=$(xapt apt-cache madison "$SRC_PKG" | awk -F'|' '{gsub(/ /,"",$2); print $2}')
[ -n "$available" ] || die "package $SRC_PKG not found in $SUITES"
if [ "$SRC_VERSION" = any ] || ! grep -qxF -- "$SRC_VERSION" <<<"$available"; then
    [ "$SRC_VERSION" = any ] || log "warning: $SRC_PKG=$SRC_VERSION is no longer in the archive; available: $(echo $available)"
    SRC_VERSION=$(head -n1 <<<"$available")
    log "using $SRC_PKG=$SRC_VERSION (results may differ from the verified build)"
fi
mkdir -p "$CACHE/debs"
deb=$(ls "$CACHE"/debs/"${SRC_PKG}_${SRC_VERSION/*:/}"_all.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    log "apt-get download $SRC_PKG=$SRC_VERSION (~165 MB)"
    (cd "$CACHE/debs" && xapt apt-get -q download "$SRC_PKG=$SRC_VERSION") \
        || die "apt-get download $SRC_PKG=$SRC_VERSION failed"
    deb=$(ls "$CACHE"/debs/"${SRC_PKG}"_*_all.deb | grep -F -- "_${SRC_VERSION/*:/}_" | head -n1)
fi
[ -f "$deb" ] || die "downloaded .deb for $SRC_PKG not found in $CACHE/debs"
log "source package: $deb"

# --- 3. extract scripts/gendwarfksyms + scripts/include only ----------------
SRC=$CACHE/src-$SRC_VERSION
rm -rf "$SRC"; mkdir -p "$SRC"
tarname=$(dpkg-deb -c "$deb" | awk '{print $NF}' | grep -E '/usr/src/linux-source-.*\.tar\.xz$' | head -n1)
[ -n "$tarname" ] || die "$deb contains no usr/src/linux-source-*.tar.xz"
topdir=$(basename "$tarname" .tar.xz)
command -v xz >/dev/null || apt-get install -y -q xz-utils >/dev/null
log "extracting $topdir/scripts/{gendwarfksyms,include} from $tarname"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarname" \
    | tar -xJ -C "$SRC" --strip-components=1 \
        "$topdir/scripts/gendwarfksyms" "$topdir/scripts/include" "$topdir/Makefile"
[ -f "$SRC/scripts/gendwarfksyms/gendwarfksyms.c" ] || die "gendwarfksyms sources missing in $tarname"
kver=$(awk -F' = ' '/^VERSION =/{v=$2} /^PATCHLEVEL =/{p=$2} /^SUBLEVEL =/{s=$2} END{print v"."p"."s}' "$SRC/Makefile")

# --- 4. build deps + compile -------------------------------------------------
missing=()
command -v gcc >/dev/null || missing+=(gcc)
for p in libdw-dev libelf-dev zlib1g-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "need root to install build deps: ${missing[*]}"
    log "apt-get install ${missing[*]} (system bookworm sources)"
    apt-get install -y -q "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
log "compiling gendwarfksyms (Linux $kver) with gcc"
gcc -O2 -std=gnu11 -Wall -Wmissing-prototypes -Wstrict-prototypes \
    -fomit-frame-pointer -I"$SRC/scripts/include" \
    -o "$BIN.tmp" "$SRC"/scripts/gendwarfksyms/*.c -ldw -lelf -lz \
    || die "compiling gendwarfksyms failed"
mv -f "$BIN.tmp" "$BIN"
echo "gendwarfksyms from Linux $kver ($SRC_PKG $SRC_VERSION), built $(date -u +%F) against libdw $(dpkg-query -W -f='${Version}' libdw-dev)" > "$BIN.version"
log "built $BIN: $(cat "$BIN.version")"

# --- 5. self-test ------------------------------------------------------------
if [ "$RUN_TEST" -eq 1 ]; then selftest; fi
echo "$BIN"
