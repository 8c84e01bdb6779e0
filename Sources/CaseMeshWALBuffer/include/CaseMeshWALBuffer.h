#ifndef CASEMESH_WAL_BUFFER_H
#define CASEMESH_WAL_BUFFER_H

#include <stdint.h>

/// Registers the write-ahead-log buffering VFS as SQLite's default (once per
/// process; later calls do nothing). Returns an SQLite result code.
int casemesh_wal_buffer_register(void);

/// What the buffering VFS has done since the process started, for tests and
/// benchmarks.
typedef struct {
    /// Writes to write-ahead logs that were held and written later with others.
    uint64_t bufferedWrites;
    /// Writes to write-ahead logs passed straight through (not contiguous, too large, ...).
    uint64_t directWrites;
    /// Times held writes were sent to the file (one system call per 64 KiB).
    uint64_t flushes;
} casemesh_wal_buffer_counts;

/// The counts of the whole process.
casemesh_wal_buffer_counts casemesh_wal_buffer_counts_now(void);

typedef struct sqlite3 sqlite3;

/// The counts of `db`'s write-ahead log file since the connection opened
/// it. SQLITE_NOTFOUND when the connection has no log open through the
/// buffering VFS.
int casemesh_wal_buffer_log_counts(sqlite3 *db, casemesh_wal_buffer_counts *counts);

#endif
