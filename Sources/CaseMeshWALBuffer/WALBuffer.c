// A VFS that wraps SQLite's default one and gathers the writes of a
// transaction to a write-ahead log into one write system call.
//
// SQLite writes each log frame as two calls: its 24-byte header, then the
// page. On this kernel every buffered write to an ext4 file costs about the
// same (~6 µs) whatever its size, so a commit of twenty pages spent most of
// its time entering the kernel forty times. Here the frames of a commit are
// held in memory while they are contiguous and written at once:
//
// - when the commit's last frame is complete (its header carries the
//   database size, nonzero only in a commit frame: the log's file format).
//   Other connections see a commit only once SQLite publishes it in the
//   shared index, which it does after writing the commit frame, so they
//   never read a frame still held here, whatever `synchronous` is;
// - before a sync, a read, a truncate, a size query, a file control and a
//   close of the log, and before any write that does not follow on;
// - when the held bytes would pass `capacity` (a transaction larger than
//   that is written in pieces, like SQLite writes it).
//
// A flush is one system call per 64 KiB (the default VFS's own limit is
// just under 128 KiB a call).
//
// A failed flush fails the write or sync that caused it, so SQLite fails
// the commit; the held bytes are dropped, as SQLite abandons the frames.
// Everything else (the database file, the shared index, locks) goes
// straight to the default VFS.

#include "CaseMeshWALBuffer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

enum {
    capacity = 1 << 20,
    frameHeaderBytes = 24,
    /// The default VFS writes at most 128 KiB - 1 bytes per call (it masks
    /// larger sizes); larger writes go in pieces of this size.
    largestWrite = 64 << 10,
};

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
    unsigned char *held;
    int heldBytes;
    sqlite3_int64 heldFrom;
    /// The last held write was a commit frame's header: flush after its page.
    int commitPending;
    casemesh_wal_buffer_counts counts;
} LogFile;

static sqlite3_vfs *root;
static sqlite3_vfs vfs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_OK;
static _Atomic uint64_t bufferedWrites, directWrites, flushes;

static int writeThrough(LogFile *file, const void *bytes, int amount, sqlite3_int64 offset) {
    const unsigned char *next = bytes;
    while (amount > 0) {
        int piece = amount < largestWrite ? amount : largestWrite;
        int rc = file->real->pMethods->xWrite(file->real, next, piece, offset);
        if (rc != SQLITE_OK) return rc;
        next += piece;
        offset += piece;
        amount -= piece;
    }
    return SQLITE_OK;
}

/// A write not held, with nothing held before it (the caller flushed).
static int writeDirect(LogFile *file, const void *bytes, int amount, sqlite3_int64 offset) {
    file->commitPending = 0;
    file->counts.directWrites += 1;
    atomic_fetch_add_explicit(&directWrites, 1, memory_order_relaxed);
    return writeThrough(file, bytes, amount, offset);
}

static int flush(LogFile *file) {
    if (file->heldBytes == 0) return SQLITE_OK;
    int bytes = file->heldBytes;
    file->heldBytes = 0;
    file->commitPending = 0;
    file->counts.flushes += 1;
    atomic_fetch_add_explicit(&flushes, 1, memory_order_relaxed);
    return writeThrough(file, file->held, bytes, file->heldFrom);
}

static int logClose(sqlite3_file *handle) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    int closed = file->real->pMethods->xClose(file->real);
    free(file->held);
    file->held = NULL;
    return rc != SQLITE_OK ? rc : closed;
}

static int logRead(sqlite3_file *handle, void *buffer, int amount, sqlite3_int64 offset) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xRead(file->real, buffer, amount, offset);
}

static int logWrite(sqlite3_file *handle, const void *bytes, int amount, sqlite3_int64 offset) {
    LogFile *file = (LogFile *)handle;
    // A commit frame's page flushes, even if it did not follow its header.
    int afterCommitHeader = file->commitPending;
    int followsOn = file->heldBytes > 0 && file->heldFrom + file->heldBytes == offset;
    if (!followsOn || file->heldBytes + amount > capacity) {
        int rc = flush(file);
        if (rc != SQLITE_OK) return rc;
    }
    if (amount > capacity) return writeDirect(file, bytes, amount, offset);
    if (file->held == NULL) {
        file->held = malloc(capacity);
        // Nothing can be held (so nothing is): write through, as SQLite would.
        if (file->held == NULL) return writeDirect(file, bytes, amount, offset);
    }
    if (file->heldBytes == 0) file->heldFrom = offset;
    memcpy(file->held + file->heldBytes, bytes, (size_t)amount);
    file->heldBytes += amount;
    file->counts.bufferedWrites += 1;
    atomic_fetch_add_explicit(&bufferedWrites, 1, memory_order_relaxed);
    if (amount == frameHeaderBytes) {
        // Bytes 4-7 of a frame header: the database size after a commit, zero otherwise.
        const unsigned char *header = bytes;
        file->commitPending = (header[4] | header[5] | header[6] | header[7]) != 0;
        return SQLITE_OK;
    }
    if (afterCommitHeader) return flush(file);
    return SQLITE_OK;
}

static int logTruncate(sqlite3_file *handle, sqlite3_int64 size) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xTruncate(file->real, size);
}

static int logSync(sqlite3_file *handle, int flags) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xSync(file->real, flags);
}

static int logFileSize(sqlite3_file *handle, sqlite3_int64 *size) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFileSize(file->real, size);
}

static int logLock(sqlite3_file *handle, int level) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xLock(file->real, level);
}

static int logUnlock(sqlite3_file *handle, int level) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xUnlock(file->real, level);
}

static int logCheckReservedLock(sqlite3_file *handle, int *result) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xCheckReservedLock(file->real, result);
}

static int logFileControl(sqlite3_file *handle, int op, void *argument) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFileControl(file->real, op, argument);
}

static int logSectorSize(sqlite3_file *handle) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xSectorSize(file->real);
}

static int logDeviceCharacteristics(sqlite3_file *handle) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xDeviceCharacteristics(file->real);
}

// A log file has no shared memory or memory map of its own; these exist
// because the method table's version says they do, and pass through.
static int logShmMap(sqlite3_file *handle, int region, int size, int extend, void volatile **memory) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xShmMap(file->real, region, size, extend, memory);
}

static int logShmLock(sqlite3_file *handle, int offset, int count, int flags) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xShmLock(file->real, offset, count, flags);
}

static void logShmBarrier(sqlite3_file *handle) {
    LogFile *file = (LogFile *)handle;
    file->real->pMethods->xShmBarrier(file->real);
}

static int logShmUnmap(sqlite3_file *handle, int delete) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xShmUnmap(file->real, delete);
}

static int logFetch(sqlite3_file *handle, sqlite3_int64 offset, int amount, void **pointer) {
    LogFile *file = (LogFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFetch(file->real, offset, amount, pointer);
}

static int logUnfetch(sqlite3_file *handle, sqlite3_int64 offset, void *pointer) {
    LogFile *file = (LogFile *)handle;
    return file->real->pMethods->xUnfetch(file->real, offset, pointer);
}

static const sqlite3_io_methods logMethods = {
    3, logClose, logRead, logWrite, logTruncate, logSync, logFileSize, logLock, logUnlock, logCheckReservedLock,
    logFileControl, logSectorSize, logDeviceCharacteristics, logShmMap, logShmLock, logShmBarrier, logShmUnmap,
    logFetch, logUnfetch,
};

static int openFile(sqlite3_vfs *self, const char *name, sqlite3_file *handle, int flags, int *outFlags) {
    (void)self;
    // Anything but a write-ahead log is the default VFS's own file, in the
    // same memory (ours is larger).
    if ((flags & SQLITE_OPEN_WAL) == 0) return root->xOpen(root, name, handle, flags, outFlags);
    LogFile *file = (LogFile *)handle;
    memset(file, 0, sizeof(LogFile));
    file->real = (sqlite3_file *)(file + 1);
    int rc = root->xOpen(root, name, file->real, flags, outFlags);
    // SQLite calls xClose after a failed open only if pMethods is set.
    file->base.pMethods = (rc == SQLITE_OK && file->real->pMethods != NULL) ? &logMethods : NULL;
    if (rc != SQLITE_OK && file->real->pMethods != NULL) file->real->pMethods->xClose(file->real);
    return rc;
}

static void registerOnce(void) {
    root = sqlite3_vfs_find(NULL);
    if (root == NULL) {
        registered = SQLITE_ERROR;
        return;
    }
    // Every other call goes to the default VFS as it is (its app data included).
    vfs = *root;
    vfs.zName = "casemesh-wal-buffer";
    vfs.szOsFile = (int)sizeof(LogFile) + root->szOsFile;
    vfs.xOpen = openFile;
    vfs.pNext = NULL;
    registered = sqlite3_vfs_register(&vfs, 1);
}

int casemesh_wal_buffer_register(void) {
    pthread_once(&once, registerOnce);
    return registered;
}

casemesh_wal_buffer_counts casemesh_wal_buffer_counts_now(void) {
    casemesh_wal_buffer_counts counts = {
        atomic_load_explicit(&bufferedWrites, memory_order_relaxed),
        atomic_load_explicit(&directWrites, memory_order_relaxed),
        atomic_load_explicit(&flushes, memory_order_relaxed),
    };
    return counts;
}

int casemesh_wal_buffer_log_counts(sqlite3 *db, casemesh_wal_buffer_counts *counts) {
    sqlite3_file *log = NULL;
    int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log);
    if (rc != SQLITE_OK) return rc;
    if (log == NULL || log->pMethods != &logMethods) return SQLITE_NOTFOUND;
    *counts = ((LogFile *)log)->counts;
    return SQLITE_OK;
}
