import CaseMeshDomain
import CaseMeshReplication
import Foundation
import GRDB

/// The database schema. Migrations are append-only: a shipped migration is
/// never edited, a change is a new migration.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE node_meta (
                    key TEXT PRIMARY KEY NOT NULL,
                    value BLOB NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE cases (
                    rowid INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
                    number TEXT NOT NULL,
                    state BLOB NOT NULL,
                    digest BLOB NOT NULL CHECK (length(digest) = 32),
                    title TEXT NOT NULL,
                    status TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    owning_region TEXT NOT NULL,
                    owner TEXT,
                    sla_due_at INTEGER,
                    updated_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX cases_by_updated ON cases(updated_at, id);
                CREATE INDEX cases_by_status ON cases(status, updated_at, id);
                CREATE INDEX cases_by_severity ON cases(severity, updated_at, id);
                CREATE INDEX cases_by_region ON cases(owning_region, updated_at, id);
                CREATE INDEX cases_by_owner ON cases(owner, updated_at, id);
                CREATE INDEX cases_by_sla_due ON cases(sla_due_at);

                CREATE VIRTUAL TABLE case_search USING fts5(title, problem, notes, tokenize = 'unicode61');

                CREATE TABLE delta_log (
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL CHECK (counter > 0),
                    case_id TEXT NOT NULL,
                    delta BLOB NOT NULL,
                    committed_at INTEGER NOT NULL,
                    PRIMARY KEY (origin, counter)
                ) WITHOUT ROWID;

                CREATE TABLE log_positions (
                    origin TEXT PRIMARY KEY NOT NULL,
                    applied INTEGER NOT NULL CHECK (applied >= 0),
                    retained_from INTEGER NOT NULL CHECK (retained_from >= 1)
                ) WITHOUT ROWID;

                CREATE TABLE peer_acks (
                    peer TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL CHECK (counter >= 0),
                    PRIMARY KEY (peer, origin)
                ) WITHOUT ROWID;

                CREATE TABLE region_counters (
                    region TEXT PRIMARY KEY NOT NULL,
                    last INTEGER NOT NULL CHECK (last >= 0)
                ) WITHOUT ROWID;
                """)
        }
        // List queries moved to the in-memory QueryIndex: these indexes made
        // every update rewrite six random B-tree pages.
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                DROP INDEX IF EXISTS cases_by_updated;
                DROP INDEX IF EXISTS cases_by_status;
                DROP INDEX IF EXISTS cases_by_severity;
                DROP INDEX IF EXISTS cases_by_region;
                DROP INDEX IF EXISTS cases_by_owner;
                DROP INDEX IF EXISTS cases_by_sla_due;
                """)
        }
        // Cases carry their catch-up bucket (fixed by the id), indexed, so a
        // digest catch-up reads only the buckets that differ.
        migrator.registerMigration("v3") { db in
            let bucket = DatabaseFunction("casemesh_bucket", argumentCount: 1, pure: true) { values in
                guard let raw = String.fromDatabaseValue(values[0]), let id = try? CaseID(raw) else { return nil }
                return CaseBucket.of(id)
            }
            db.add(function: bucket)
            try db.execute(sql: """
                ALTER TABLE cases ADD COLUMN bucket INTEGER NOT NULL DEFAULT 0;
                UPDATE cases SET bucket = casemesh_bucket(id);
                CREATE INDEX cases_by_bucket ON cases(bucket);
                """)
        }
        // Room for a case row to grow into (see `CaseRow.reservedBytes`).
        migrator.registerMigration("v4") { db in
            try db.execute(sql: "ALTER TABLE cases ADD COLUMN slack BLOB")
        }
        // Full-text search per note: `case_search` held all of a case's notes
        // in one column, so every note added re-indexed (and first
        // un-indexed) the text of all the case's notes. Now a case's title
        // and problem statement are one document and each note is one of its
        // own, found through `case_notes`.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE VIRTUAL TABLE case_text USING fts5(title, problem, tokenize = 'unicode61');
                INSERT INTO case_text(rowid, title, problem) SELECT rowid, title, problem FROM case_search;
                DROP TABLE case_search;
                CREATE TABLE case_notes (
                    rowid INTEGER PRIMARY KEY,
                    case_row INTEGER NOT NULL,
                    note_id TEXT NOT NULL,
                    UNIQUE (case_row, note_id)
                );
                CREATE VIRTUAL TABLE note_text USING fts5(text, tokenize = 'unicode61');
                """)
            let cases = try Row.fetchCursor(db, sql: "SELECT rowid, id, state FROM cases")
            while let row = try cases.next() {
                let rowid: Int64 = row[0]
                let state: CaseState
                do {
                    state = try row.withUnsafeData(atIndex: 2) { data in try CaseState(decoding: [UInt8](data ?? Data())) }
                } catch {
                    // A damaged row fails its own writes (`.corrupt`); it must not stop the upgrade.
                    continue
                }
                for (id, text) in SearchText.noteTexts(state) {
                    try db.execute(sql: "INSERT INTO case_notes(case_row, note_id) VALUES (?, ?)", arguments: [rowid, id.rawValue])
                    try db.execute(sql: "INSERT INTO note_text(rowid, text) VALUES (last_insert_rowid(), ?)", arguments: [text])
                }
            }
        }
        // Full-text search is written after commits, many at a time (see
        // `SearchIndexer`); a commit marks the cases whose entries are due.
        migrator.registerMigration("v6") { db in
            try db.execute(sql: "CREATE TABLE search_pending (case_row INTEGER PRIMARY KEY NOT NULL)")
        }
        // Updates append a version of the case instead of rewriting its row
        // in place (see `LiveVersions`): `cases` keeps what never changes,
        // `case_versions` the states, with no index but the row id. Each
        // case's present state becomes its first version (same number as
        // its row).
        migrator.registerMigration("v7") { db in
            try db.execute(sql: """
                CREATE TABLE case_versions (
                    rowid INTEGER PRIMARY KEY,
                    case_row INTEGER NOT NULL,
                    state BLOB NOT NULL,
                    digest BLOB NOT NULL CHECK (length(digest) = 32),
                    title TEXT NOT NULL,
                    status TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    owning_region TEXT NOT NULL,
                    owner TEXT,
                    sla_due_at INTEGER,
                    updated_at INTEGER NOT NULL
                );
                INSERT INTO case_versions(rowid, case_row, state, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at)
                    SELECT rowid, rowid, state, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at
                    FROM cases ORDER BY rowid;
                ALTER TABLE cases DROP COLUMN state;
                ALTER TABLE cases DROP COLUMN digest;
                ALTER TABLE cases DROP COLUMN title;
                ALTER TABLE cases DROP COLUMN status;
                ALTER TABLE cases DROP COLUMN severity;
                ALTER TABLE cases DROP COLUMN owning_region;
                ALTER TABLE cases DROP COLUMN owner;
                ALTER TABLE cases DROP COLUMN sla_due_at;
                ALTER TABLE cases DROP COLUMN updated_at;
                ALTER TABLE cases DROP COLUMN slack;
                """)
        }
        // The states move to a table of their own, keyed by version, and
        // `case_versions` keeps what the store reads when it opens (the
        // case, the digest, the list columns): that scan read every
        // state's pages, about 1.7 KB per version and 3.5 GB at a million
        // cases, where it needs about a tenth of that. The narrow table is
        // copied anew rather than altered: `DROP COLUMN` rewrites rows in
        // place, which left each one alone on a page as large as before.
        migrator.registerMigration("v8") { db in
            try db.execute(sql: """
                CREATE TABLE case_states (
                    version INTEGER PRIMARY KEY,
                    case_row INTEGER NOT NULL,
                    state BLOB NOT NULL,
                    digest BLOB NOT NULL CHECK (length(digest) = 32)
                );
                INSERT INTO case_states(version, case_row, state, digest)
                    SELECT rowid, case_row, state, digest FROM case_versions ORDER BY rowid;
                CREATE TABLE case_versions_v8 (
                    rowid INTEGER PRIMARY KEY,
                    case_row INTEGER NOT NULL,
                    digest BLOB NOT NULL CHECK (length(digest) = 32),
                    title TEXT NOT NULL,
                    status TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    owning_region TEXT NOT NULL,
                    owner TEXT,
                    sla_due_at INTEGER,
                    updated_at INTEGER NOT NULL
                );
                INSERT INTO case_versions_v8(rowid, case_row, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at)
                    SELECT rowid, case_row, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at
                    FROM case_versions ORDER BY rowid;
                DROP TABLE case_versions;
                ALTER TABLE case_versions_v8 RENAME TO case_versions;
                """)
        }
        // The node's digest is no longer stored: the store works it out
        // from the case digests when it opens, and a row no batch updates
        // would only go stale.
        migrator.registerMigration("v9") { db in
            try db.execute(sql: "DELETE FROM node_meta WHERE key = 'digest'")
        }
        return migrator
    }
}
