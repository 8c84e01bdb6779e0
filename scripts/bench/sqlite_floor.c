// The floor under the store's durable updates: SQLite alone, in C, doing
// what the store's write path asks of it for a single-field update, with
// none of the store's own work (no decoding, no command, no encoding, no
// digest, no Swift). Run by scripts/bench-sqlite-floor on a copy of a
// bench-store database.
//
// Two layouts. With --versions, the store's own (schema v8 on): a case's
// live state is its newest row in `case_states` (version, case_row, state,
// digest), with the version's query columns in `case_versions`; per update
// read the live state by version, in a read transaction per batch on its own
// connection; then, in one write transaction per batch on the writer
// connection, append the case's next version to both tables (the state's
// bytes as read, a real update grows its state a little; an owner no row
// holds yet, so that every update changes its row) and a 170-byte row to
// delta_log, and clean as the store does (see `versionsMode`). Nothing else
// per batch: the store derives its log positions and node digest. Without
// --versions, the layout of stores from before v8 (cases rewritten in place
// in `cases`, which then held the state; such a database is needed): read
// the row by id, or by rowid with --by-rowid; write it back in place, append
// to delta_log, and per batch move log_positions and the node digest, as
// those stores did. SQLite leaves a page untouched when a row is rewritten
// with the bytes it already holds, and a run that repeated an earlier run's
// updates would then write next to nothing: hence the new owners. WAL,
// synchronous = FULL, a passive checkpoint every 250 ms on a third
// connection and the writer's own at 16,000 log pages: the store's settings
// (see `openConnection`). With --pipelined the next batch is read on a
// second thread while this one is written, as the store prepares the next
// batch while the writer writes.
//
// With --writers N the load is a closed loop, as scripts/bench-store's:
// N client threads each ask for one update and wait for its answer. The
// preparing thread takes everything waiting (up to 512) as the next batch,
// reads its cases and spends --work microseconds of its own CPU per update
// (standing for the store's decoding, command, encoding and digest, which
// this program does not do); the writer writes and commits the batch, then
// wakes its clients. So it shows the most a store could reach here with
// that many writers when that much of its own work per update runs on one
// thread beside the writer (as the store's preparing does, mostly). --batch
// and --pipelined do not apply to it. Two batches may be in flight, as in
// the store (one written while the next is prepared); with --slots N the
// preparing thread may fill up to N batches ahead, and the writer commits
// every batch waiting, up to N - 1, in one transaction: a pipeline that
// lets the writer's batches grow.
//
// The cases updated follow a seed (--seed, printed; a new one each run
// unless given).
//
// With --versions, cases are kept as appended versions instead of rows
// rewritten in place (see `versionsMode`): what a log-structured case
// table would cost SQLite, cleaning included. --states-only (with
// --versions) leaves the query columns out of the commit: each update
// appends only its state (and the delta), as a store that wrote
// `case_versions` after the commit (as the store writes its search index)
// would; cleaning then follows `case_states`. --work-on-clients spends
// the --work on each client thread before it asks, instead of on the
// preparing thread, as the store's callers read their cases themselves.
//
//   sqlite_floor DB [--batch N] [--updates N] [--pipelined] [--by-rowid] [--writers N [--work US [--work-on-clients]] [--slots N]]
//                   [--versions [--states-only]] [--seed N]
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static int batchSize = 13, updates = 40000, pipelined = 0, byRowid = 0, writers = 0;
static double workMicros = 0;
static long caseCount, counter;
/// Where the random cases start; each reading thread starts from it.
static unsigned workloadSeed;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void check(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite_floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

/// The roles of the connections, with the store's settings for each.
typedef enum { Writer, Reader, Checkpointer } Role;

static sqlite3 *openConnection(Role role) {
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite_floor: cannot open %s\n", path);
        exit(1);
    }
    check(db, sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;", 0, 0, 0), "settings");
    // As the store: readers get a small page cache (SQLite empties it after
    // every commit anyway); the writer keeps 32 MiB, checkpoints the log
    // itself at 16,000 pages (so the log starts over) and trims its file to
    // 64 MiB then; readers and the checkpointer's connection never
    // checkpoint on their own.
    const char *settings = role == Writer
        ? "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 16000; PRAGMA journal_size_limit = 67108864;"
        : "PRAGMA cache_size = -2048; PRAGMA wal_autocheckpoint = 0;";
    check(db, sqlite3_exec(db, settings, 0, 0, 0), "settings");
    return db;
}

/// Starts a thread, or stops the program: a thread missing from the closed
/// loop would leave the others waiting for it forever.
static void startThread(pthread_t *thread, void *(*body)(void *), void *argument) {
    int error = pthread_create(thread, NULL, body, argument);
    if (error != 0) {
        fprintf(stderr, "sqlite_floor: cannot start a thread: %s\n", strerror(error));
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *statement;
    check(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, 0), sql);
    return statement;
}

typedef struct { long key, rowid; int length; unsigned char state[4096]; unsigned char digest[32]; } CaseRead;

// MARK: --versions: cases kept as appended versions

/// With --versions every update appends the case's new version to
/// `case_versions` and `case_states` instead of rewriting a row in place,
/// and the oldest versions are cleaned as the tables pass `spaceFactor`
/// times the cases by `cleaningSlack` (as the store's `VersionLog`): a
/// version still the live one of its case is appended again, then the
/// cleaned range is deleted, one statement per table. Which row is a case's live one is
/// known in memory (`liveRow`, built from the table at start: the highest
/// rowid of each case). So no update writes a random page; the cost moves
/// to the cleaning, which the run pays as it goes. The writer keeps its own
/// `writerLive` and publishes a transaction's changes to `liveRow`, which
/// the reading thread uses, only once it is committed.
static int versionsMode = 0;
/// --states-only: no `case_versions` row per update (see the top).
static int statesOnly = 0;
static const double spaceFactor = 2.0;
/// The store's `NodeStore.cleaningChunk`: cleaning waits until the tables
/// pass their limit by this many versions, then goes down to the limit.
static const long cleaningSlack = 256;
static long *liveRow, *writerLive;
enum { maxUnpublished = 1 << 16 };
static long unpublishedKey[maxUnpublished], unpublishedRow[maxUnpublished];
static int unpublished;
static long nextVersion, oldestVersion, reappended;
static sqlite3_stmt *oldestRows, *copyVersion, *copyState, *deleteCleaned, *deleteCleanedStates, *appendState;
typedef struct { CaseRead cases[512]; int clients[512]; int count; } Batch;

/// Reads a batch of random cases in one read transaction.
static void readBatch(sqlite3 *db, sqlite3_stmt *select, Batch *batch, int count, unsigned *seed, double *spent) {
    double start = now();
    check(db, sqlite3_exec(db, "BEGIN", 0, 0, 0), "BEGIN");
    batch->count = count;
    for (int i = 0; i < count; i++) {
        long key = 1 + rand_r(seed) % caseCount;
        char id[32];
        // A case's live version may be cleaned (appended again, its old row
        // deleted) between reading `liveRow` and this snapshot; then its new
        // one is published by the time the old one is missing: read again.
        int found = 0;
        for (int attempt = 0; attempt < 3 && !found; attempt++) {
            if (versionsMode) {
                sqlite3_bind_int64(select, 1, __atomic_load_n(&liveRow[key], __ATOMIC_ACQUIRE));
            } else if (byRowid) {
                sqlite3_bind_int64(select, 1, key);
            } else {
                snprintf(id, sizeof id, "bench-%ld", key);
                sqlite3_bind_text(select, 1, id, -1, SQLITE_TRANSIENT);
            }
            found = sqlite3_step(select) == SQLITE_ROW;
            if (!found) sqlite3_reset(select);
            if (!versionsMode) break;
        }
        if (!found) { fprintf(stderr, "sqlite_floor: case %ld is missing\n", key); exit(1); }
        CaseRead *row = &batch->cases[i];
        row->key = key;
        row->rowid = sqlite3_column_int64(select, 0);
        row->length = sqlite3_column_bytes(select, 1);
        if (row->length > (int)sizeof row->state) row->length = sizeof row->state;
        memcpy(row->state, sqlite3_column_blob(select, 1), row->length);
        memcpy(row->digest, sqlite3_column_blob(select, 2), 32);
        sqlite3_reset(select);
    }
    check(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), "COMMIT (read)");
    *spent += now() - start;
}

static sqlite3 *writerDB;
static sqlite3_stmt *updateCase, *appendLog, *logPosition, *nodeDigest;

static void writeCases(Batch *batch);
static void writeQueryColumns(const CaseRead *row);

/// Records that `key`'s live version is now `rowid` (for readers: once committed).
static void moveLive(long key, long rowid) {
    if (unpublished == maxUnpublished) { fprintf(stderr, "sqlite_floor: too many versions in one transaction\n"); exit(1); }
    writerLive[key] = rowid;
    unpublishedKey[unpublished] = key;
    unpublishedRow[unpublished++] = rowid;
}

/// After a commit: readers may use the versions it wrote.
static void publishVersions(void) {
    for (int i = 0; i < unpublished; i++) __atomic_store_n(&liveRow[unpublishedKey[i]], unpublishedRow[i], __ATOMIC_RELEASE);
    unpublished = 0;
}

/// Cleans the oldest versions until the table holds at most `spaceFactor`
/// times the cases: live ones are appended again, then the range goes.
static void cleanVersions(void) {
    long limit = (long)(spaceFactor * caseCount);
    if (nextVersion - oldestVersion <= limit + cleaningSlack) return;
    long cleanedTo = oldestVersion;
    while (nextVersion - cleanedTo > limit) {
        sqlite3_bind_int64(oldestRows, 1, cleanedTo);
        int rows = 0;
        while (nextVersion - cleanedTo > limit && sqlite3_step(oldestRows) == SQLITE_ROW) {
            long rowid = sqlite3_column_int64(oldestRows, 0), key = sqlite3_column_int64(oldestRows, 1);
            rows++;
            if (key >= 1 && key <= caseCount && writerLive[key] == rowid) {
                if (!statesOnly) {
                    sqlite3_bind_int64(copyVersion, 1, nextVersion);
                    sqlite3_bind_int64(copyVersion, 2, rowid);
                    check(writerDB, sqlite3_step(copyVersion), "copying a live version");
                    sqlite3_reset(copyVersion);
                }
                sqlite3_bind_int64(copyState, 1, nextVersion);
                sqlite3_bind_int64(copyState, 2, rowid);
                check(writerDB, sqlite3_step(copyState), "copying a live version's state");
                sqlite3_reset(copyState);
                moveLive(key, nextVersion++);
                reappended++;
            }
            cleanedTo = rowid + 1;
        }
        sqlite3_reset(oldestRows);
        if (rows == 0) break;
    }
    if (cleanedTo == oldestVersion) return;
    sqlite3_bind_int64(deleteCleaned, 1, cleanedTo);
    check(writerDB, sqlite3_step(deleteCleaned), "deleting cleaned versions");
    sqlite3_reset(deleteCleaned);
    sqlite3_bind_int64(deleteCleanedStates, 1, cleanedTo);
    check(writerDB, sqlite3_step(deleteCleanedStates), "deleting cleaned states");
    sqlite3_reset(deleteCleanedStates);
    oldestVersion = cleanedTo;
}

/// Writes `count` batches in one transaction, as the store's writer does.
static void writeBatches(Batch *const *batches, int count, double *spent) {
    double start = now();
    check(writerDB, sqlite3_exec(writerDB, "BEGIN IMMEDIATE", 0, 0, 0), "BEGIN IMMEDIATE");
    for (int i = 0; i < count; i++) writeCases(batches[i]);
    check(writerDB, sqlite3_exec(writerDB, "COMMIT", 0, 0, 0), "COMMIT");
    publishVersions();
    *spent += now() - start;
}

static void writeBatch(Batch *batch, double *spent) { writeBatches(&batch, 1, spent); }

/// A batch's statements, inside the writer's open transaction.
static void writeCases(Batch *batch) {
    for (int i = 0; i < batch->count; i++) {
        CaseRead *row = &batch->cases[i];
        if (versionsMode) {
            sqlite3_bind_int64(appendState, 1, nextVersion);
            sqlite3_bind_int64(appendState, 2, row->key);
            sqlite3_bind_blob(appendState, 3, row->state, row->length, SQLITE_STATIC);
            sqlite3_bind_blob(appendState, 4, row->digest, 32, SQLITE_STATIC);
            check(writerDB, sqlite3_step(appendState), "INSERT INTO case_states");
            sqlite3_reset(appendState);
        }
        if (!statesOnly) writeQueryColumns(row);
        if (versionsMode) moveLive(row->key, nextVersion++);
        counter++;
        sqlite3_bind_int64(appendLog, 1, counter);
        sqlite3_bind_blob(appendLog, 2, row->state, row->length < 170 ? row->length : 170, SQLITE_STATIC);
        check(writerDB, sqlite3_step(appendLog), "INSERT INTO delta_log");
        sqlite3_reset(appendLog);
    }
    if (versionsMode) {
        cleanVersions();
        return;
    }
    sqlite3_bind_int64(logPosition, 1, counter);
    check(writerDB, sqlite3_step(logPosition), "log_positions");
    sqlite3_reset(logPosition);
    sqlite3_bind_blob(nodeDigest, 1, batch->cases[0].digest, 32, SQLITE_STATIC);
    check(writerDB, sqlite3_step(nodeDigest), "node_meta");
    sqlite3_reset(nodeDigest);
}

/// The case's query columns: its row rewritten in place (with its state),
/// or with --versions its next version's row in `case_versions`.
static void writeQueryColumns(const CaseRead *row) {
    if (!versionsMode) sqlite3_bind_blob(updateCase, 1, row->state, row->length, SQLITE_STATIC);
    sqlite3_bind_blob(updateCase, 2, row->digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(updateCase, 3, "timeout issue for customer 12", -1, SQLITE_STATIC);
    sqlite3_bind_text(updateCase, 4, "investigating", -1, SQLITE_STATIC);
    sqlite3_bind_text(updateCase, 5, "sev2", -1, SQLITE_STATIC);
    sqlite3_bind_text(updateCase, 6, "EMEA", -1, SQLITE_STATIC);
    char owner[48];
    snprintf(owner, sizeof owner, "engineer-12-%u-%ld", workloadSeed, counter);
    sqlite3_bind_text(updateCase, 7, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(updateCase, 8, 1790000000000);
    sqlite3_bind_int64(updateCase, 9, 1790000000000);
    if (versionsMode) {
        sqlite3_bind_int64(updateCase, 10, nextVersion);
        sqlite3_bind_int64(updateCase, 11, row->key);
    } else {
        sqlite3_bind_int64(updateCase, 10, row->rowid);
    }
    check(writerDB, sqlite3_step(updateCase), versionsMode ? "INSERT INTO case_versions" : "UPDATE cases");
    sqlite3_reset(updateCase);
}

static volatile int stopping = 0;
static void *checkpointer(void *unused) {
    sqlite3 *db = openConnection(Checkpointer);
    while (!stopping) {
        usleep(250000);
        sqlite3_wal_checkpoint_v2(db, 0, SQLITE_CHECKPOINT_PASSIVE, 0, 0);
    }
    sqlite3_close(db);
    return unused;
}

/// Batch buffers handed between the reading thread and the writer: two,
/// or `slots` in the closed loop.
enum { maxSlots = 16 };
static Batch buffers[maxSlots];
static int ready[maxSlots];
/// Batches the closed loop's preparing thread may have filled ahead of the writer (--slots).
static int slots = 2;
/// --work-on-clients: the stand-in work runs on the clients (see the top).
static int workOnClients = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static double readSpent, writeSpent;
static const char *selectSQL;

static void waitFor(int slot, int value) {
    pthread_mutex_lock(&lock);
    while (ready[slot] != value) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void mark(int slot, int value) {
    pthread_mutex_lock(&lock);
    ready[slot] = value;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void *reader(void *batches) {
    sqlite3 *db = openConnection(Reader);
    sqlite3_stmt *select = prepare(db, selectSQL);
    unsigned seed = workloadSeed;
    for (long k = 0; k < (long)batches; k++) {
        waitFor(k & 1, 0);
        readBatch(db, select, &buffers[k & 1], batchSize, &seed, &readSpent);
        mark(k & 1, 1);
    }
    sqlite3_finalize(select);
    sqlite3_close(db);
    return NULL;
}

// MARK: the closed loop (--writers)

/// Client ids waiting for the next batch, in arrival order.
static int pendingIds[4096], pendingCount;
static pthread_cond_t pendingChanged = PTHREAD_COND_INITIALIZER;
static sem_t answered[4096];
static long issued, batchesWritten;
static int clientsDone, finished;
static double latencySum;

static double threadCPU(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// Spends `seconds` of this thread's own CPU time (not wall time: a
/// preempted thread would otherwise count time it did not work).
static void work(double seconds) {
    double until = threadCPU() + seconds;
    while (threadCPU() < until) {}
}

static void *client(void *argument) {
    int id = (int)(long)argument;
    for (;;) {
        if (workOnClients) work(workMicros * 1e-6);
        pthread_mutex_lock(&lock);
        if (issued >= updates) { pthread_mutex_unlock(&lock); break; }
        issued++;
        pendingIds[pendingCount++] = id;
        pthread_cond_broadcast(&pendingChanged);
        pthread_mutex_unlock(&lock);
        double asked = now();
        sem_wait(&answered[id]);
        double latency = now() - asked;
        pthread_mutex_lock(&lock);
        latencySum += latency;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    if (++clientsDone == writers) finished = 1;
    pthread_cond_broadcast(&pendingChanged);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/// Takes what waits as the next batch, reads it and does the stand-in work;
/// marks a slot 2 when every client is done.
static void *closedLoopPreparer(void *unused) {
    sqlite3 *db = openConnection(Reader);
    sqlite3_stmt *select = prepare(db, selectSQL);
    unsigned seed = workloadSeed;
    for (long k = 0;; k++) {
        int slot = k % slots;
        waitFor(slot, 0);
        Batch *batch = &buffers[slot];
        pthread_mutex_lock(&lock);
        while (pendingCount == 0 && !finished) pthread_cond_wait(&pendingChanged, &lock);
        if (pendingCount == 0) {
            pthread_mutex_unlock(&lock);
            mark(slot, 2);
            break;
        }
        int n = pendingCount < 512 ? pendingCount : 512;
        memcpy(batch->clients, pendingIds, n * sizeof(int));
        memmove(pendingIds, pendingIds + n, (pendingCount - n) * sizeof(int));
        pendingCount -= n;
        pthread_mutex_unlock(&lock);
        readBatch(db, select, batch, n, &seed, &readSpent);
        if (!workOnClients) work(workMicros * 1e-6 * n);
        mark(slot, 1);
    }
    sqlite3_finalize(select);
    sqlite3_close(db);
    return unused;
}

/// Waits until `slot` holds anything but 0, and returns it.
static int waitForFilled(int slot) {
    pthread_mutex_lock(&lock);
    while (ready[slot] == 0) pthread_cond_wait(&changed, &lock);
    int value = ready[slot];
    pthread_mutex_unlock(&lock);
    return value;
}

static void runClosedLoop(void) {
    pthread_t preparer, clients[4096];
    for (int i = 0; i < writers; i++) sem_init(&answered[i], 0, 0);
    startThread(&preparer, closedLoopPreparer, NULL);
    for (int i = 0; i < writers; i++) startThread(&clients[i], client, (void *)(long)i);
    for (long k = 0;;) {
        int slot = k % slots;
        if (waitForFilled(slot) == 2) break;
        // Every batch filled behind this one, up to slots - 1 in all, goes
        // into the same transaction (with the default 2: one at a time).
        Batch *taken[maxSlots] = { &buffers[slot] };
        int count = 1;
        pthread_mutex_lock(&lock);
        while (count < slots - 1 && ready[(k + count) % slots] == 1) { taken[count] = &buffers[(k + count) % slots]; count++; }
        pthread_mutex_unlock(&lock);
        writeBatches(taken, count, &writeSpent);
        batchesWritten++;
        for (int j = 0; j < count; j++) {
            for (int i = 0; i < taken[j]->count; i++) sem_post(&answered[taken[j]->clients[i]]);
            mark((k + j) % slots, 0);
        }
        k += count;
    }
    for (int i = 0; i < writers; i++) pthread_join(clients[i], NULL);
    pthread_join(preparer, NULL);
}

static double cpuSeconds(double *system) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *system = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + *system;
}

/// Whether the database has `table`, or `table.column` when `column` is given.
static int hasTable(const char *table, const char *column) {
    sqlite3_stmt *exists = column
        ? prepare(writerDB, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?")
        : prepare(writerDB, "SELECT count(*) FROM sqlite_master WHERE name = ?");
    sqlite3_bind_text(exists, 1, table, -1, SQLITE_STATIC);
    if (column) sqlite3_bind_text(exists, 2, column, -1, SQLITE_STATIC);
    check(writerDB, sqlite3_step(exists), table);
    int present = sqlite3_column_int(exists, 0);
    sqlite3_finalize(exists);
    return present;
}

/// Each case's live version (its highest rowid), and the table's ends.
static void loadVersions(void) {
    if (!hasTable("case_states", NULL) || !hasTable("case_versions", NULL)) {
        fprintf(stderr, "sqlite_floor: --versions needs a store that keeps cases as versions (case_states, case_versions: schema v8 on); %s has none\n", path);
        exit(1);
    }
    liveRow = calloc(caseCount + 1, sizeof(long));
    writerLive = calloc(caseCount + 1, sizeof(long));
    if (!liveRow || !writerLive) { fprintf(stderr, "sqlite_floor: out of memory\n"); exit(1); }
    // With --states-only the states are the versions (an earlier run left
    // `case_versions` behind them); otherwise the two tables agree.
    sqlite3_stmt *scan = prepare(writerDB, statesOnly ? "SELECT version, case_row FROM case_states ORDER BY version"
                                                      : "SELECT rowid, case_row FROM case_versions ORDER BY rowid");
    oldestVersion = 0;
    while (sqlite3_step(scan) == SQLITE_ROW) {
        long rowid = sqlite3_column_int64(scan, 0), key = sqlite3_column_int64(scan, 1);
        if (oldestVersion == 0) oldestVersion = rowid;
        if (key >= 1 && key <= caseCount) liveRow[key] = rowid;
        nextVersion = rowid + 1;
    }
    sqlite3_finalize(scan);
    for (long key = 1; key <= caseCount; key++) {
        if (liveRow[key] == 0) { fprintf(stderr, "sqlite_floor: case %ld has no version\n", key); exit(1); }
        writerLive[key] = liveRow[key];
    }
    // Cleaning deletes whole ranges; a deleted page need not be zeroed on disk.
    check(writerDB, sqlite3_exec(writerDB, "PRAGMA secure_delete = FAST", 0, 0, 0), "secure_delete");
    oldestRows = prepare(writerDB, statesOnly ? "SELECT version, case_row FROM case_states WHERE version >= ? ORDER BY version"
                                              : "SELECT rowid, case_row FROM case_versions WHERE rowid >= ? ORDER BY rowid");
    copyVersion = prepare(writerDB, "INSERT INTO case_versions SELECT ?, case_row, digest, title, status, severity, owning_region, owner,"
                                    " sla_due_at, updated_at FROM case_versions WHERE rowid = ?");
    copyState = prepare(writerDB, "INSERT INTO case_states(version, case_row, state, digest) SELECT ?, case_row, state, digest FROM case_states WHERE version = ?");
    deleteCleaned = prepare(writerDB, "DELETE FROM case_versions WHERE rowid < ?");
    deleteCleanedStates = prepare(writerDB, "DELETE FROM case_states WHERE version < ?");
    appendState = prepare(writerDB, "INSERT INTO case_states(version, case_row, state, digest) VALUES (?, ?, ?, ?)");
}

/// With --versions: what the cleaning cost the run.
static void printCleaning(long reappendedInRun, long done) {
    if (!versionsMode) return;
    printf("  cleaning: %.2f live versions appended again per update (%ld), the table %ld versions for %ld cases\n",
           (double)reappendedInRun / done, reappendedInRun, nextVersion - oldestVersion, caseCount);
}

static const char *usage = "usage: sqlite_floor DB [--batch 1..512] [--updates N >= batch] [--pipelined] [--by-rowid]"
                            " [--writers 1..4096 [--work MICROSECONDS [--work-on-clients]] [--slots 2..16]] [--versions [--states-only]] [--seed N]";

int main(int argc, char **argv) {
    int seeded = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batchSize = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--updates") && i + 1 < argc) updates = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pipelined")) pipelined = 1;
        else if (!strcmp(argv[i], "--by-rowid")) byRowid = 1;
        else if (!strcmp(argv[i], "--writers") && i + 1 < argc) writers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--work") && i + 1 < argc) workMicros = atof(argv[++i]);
        else if (!strcmp(argv[i], "--versions")) versionsMode = 1;
        else if (!strcmp(argv[i], "--states-only")) statesOnly = 1;
        else if (!strcmp(argv[i], "--work-on-clients")) workOnClients = 1;
        else if (!strcmp(argv[i], "--slots") && i + 1 < argc) slots = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) { workloadSeed = (unsigned)strtoul(argv[++i], NULL, 10); seeded = 1; }
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { fprintf(stderr, "%s\n", usage); return 2; }
    }
    if (!path || batchSize < 1 || batchSize > 512 || updates < (writers > 0 ? 1 : batchSize) || writers < 0 || writers > 4096 || slots < 2 || slots > maxSlots || (slots != 2 && writers == 0) || workMicros < 0
        || (workMicros > 0 && writers == 0) || (statesOnly && !versionsMode) || (workOnClients && writers == 0)) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (!seeded) workloadSeed = (unsigned)(time(NULL) ^ getpid());
    writerDB = openConnection(Writer);
    sqlite3_stmt *count = prepare(writerDB, "SELECT max(rowid), (SELECT max(counter) FROM delta_log) FROM cases");
    check(writerDB, sqlite3_step(count), "count");
    caseCount = sqlite3_column_int64(count, 0);
    counter = sqlite3_column_int64(count, 1) + 1000000;
    sqlite3_finalize(count);
    if (caseCount < 1) { fprintf(stderr, "sqlite_floor: %s holds no cases\n", path); return 1; }
    if (versionsMode) {
        loadVersions();
        // The state goes to case_states (`appendState`); ?1 is left unbound.
        updateCase = prepare(writerDB, "INSERT INTO case_versions(digest, title, status, severity, owning_region, owner, sla_due_at, updated_at,"
                                       " rowid, case_row) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    } else {
        if (!hasTable("cases", "state")) {
            fprintf(stderr, "sqlite_floor: without --versions this needs a store from before v8, whose cases table held the states; %s keeps them as versions: use --versions\n", path);
            exit(1);
        }
        updateCase = prepare(writerDB, "UPDATE cases SET state = ?, digest = ?, title = ?, status = ?, severity = ?, owning_region = ?,"
                                       " owner = ?, sla_due_at = ?, updated_at = ?, slack = NULL WHERE rowid = ?");
    }
    appendLog = prepare(writerDB, "INSERT INTO delta_log(origin, counter, case_id, delta, committed_at) VALUES ('floor', ?, 'bench-1', ?, 1790000000000)");
    logPosition = prepare(writerDB, "INSERT INTO log_positions(origin, applied, retained_from) VALUES ('floor', ?, 1)"
                                    " ON CONFLICT(origin) DO UPDATE SET applied = excluded.applied");
    nodeDigest = prepare(writerDB, "INSERT INTO node_meta(key, value) VALUES ('digest', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    selectSQL = versionsMode ? "SELECT version, state, digest FROM case_states WHERE version = ?"
              : byRowid ? "SELECT rowid, state, digest FROM cases WHERE rowid = ?" : "SELECT rowid, state, digest FROM cases WHERE id = ?";

    pthread_t checkpointThread;
    startThread(&checkpointThread, checkpointer, NULL);
    long batches = updates / batchSize;
    double system0, cpu0 = cpuSeconds(&system0), start = now();
    if (writers > 0) {
        runClosedLoop();
    } else if (pipelined) {
        pthread_t readThread;
        startThread(&readThread, reader, (void *)batches);
        for (long k = 0; k < batches; k++) {
            waitFor(k & 1, 1);
            writeBatch(&buffers[k & 1], &writeSpent);
            mark(k & 1, 0);
        }
        pthread_join(readThread, NULL);
    } else {
        sqlite3 *readDB = openConnection(Reader);
        sqlite3_stmt *select = prepare(readDB, selectSQL);
        unsigned seed = workloadSeed;
        for (long k = 0; k < batches; k++) {
            readBatch(readDB, select, &buffers[0], batchSize, &seed, &readSpent);
            writeBatch(&buffers[0], &writeSpent);
        }
    }
    double elapsed = now() - start, system1, cpu1 = cpuSeconds(&system1);
    long reappendedInRun = reappended;
    stopping = 1;
    pthread_join(checkpointThread, NULL);
    const char *reading = statesOnly ? "rowid, as appended versions, states only in the commit"
                         : versionsMode ? "rowid, as appended versions" : byRowid ? "rowid" : "id";
    if (writers > 0) {
        long done = issued;
        printf("SQLite alone (C), %ld cases, %d closed-loop writers, %.1f us of stand-in work per update%s, cases read by %s, seed %u: %.0f updates/s\n",
               caseCount, writers, workMicros, workOnClients ? " on the clients" : "", reading, workloadSeed, done / elapsed);
        printf("  %ld batches, %.1f updates each; mean latency %.2f ms; per update: reading %.1f us, writing and committing %.1f us (wall);"
               " CPU %.1f us (the whole process: SQLite, the stand-in work, the clients), of which in the kernel %.1f us\n", batchesWritten, (double)done / batchesWritten, latencySum / done * 1e3,
               readSpent / done * 1e6, writeSpent / done * 1e6, (cpu1 - cpu0) / done * 1e6, (system1 - system0) / done * 1e6);
        printCleaning(reappendedInRun, done);
        return 0;
    }
    long done = batches * batchSize;
    printf("SQLite alone (C), %ld cases, batches of %d%s, cases read by %s, seed %u: %.0f updates/s\n", caseCount, batchSize,
           pipelined ? ", next batch read while one is written" : "", reading, workloadSeed, done / elapsed);
    printf("  per update: reading %.1f us, writing and committing %.1f us (wall); CPU %.1f us, of which in the kernel %.1f us\n",
           readSpent / done * 1e6, writeSpent / done * 1e6, (cpu1 - cpu0) / done * 1e6, (system1 - system0) / done * 1e6);
    printCleaning(reappendedInRun, done);
    return 0;
}
