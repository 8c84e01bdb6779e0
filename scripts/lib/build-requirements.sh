# Sourced by the scripts that build CaseMesh: refuses to start a build that
# would fail at the end for want of a Debian package, and says which.
#   require_build_packages NAME   (NAME: the calling script, for the message)
require_build_packages() {
    local missing=()
    # GRDB compiles against the system SQLite.
    dpkg -s libsqlite3-dev >/dev/null 2>&1 || [ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
    # The programs that run a store link jemalloc (Package.swift, storeAllocator).
    dpkg -s libjemalloc-dev >/dev/null 2>&1 || ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so ' || missing+=(libjemalloc-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "$1: build requirements are missing; install them with: apt-get install ${missing[*]}" >&2
        exit 1
    fi
}
