"""What a store's commits write: the frames of a copy of its write-ahead log, by table.

Usage: python3 scripts/bench/wal_frames.py COPY-OF-LOG [DATABASE]

Copy the log (`<data-dir>/store/casemesh.sqlite-wal`) while updates run:
it holds the commits since the log last started over. Each frame is
classified from its own page (B-tree leaf or interior, table or index,
and for leaves the number of columns of the first cell's record); with
the database given, pages are also named after the table `dbstat` finds
them in (read-only; the names are those of the database as it is when
this runs, so pages reused since may be named after another table).
Commits of 60 frames or more (a trim of the delta log, a round of
cleaning) are counted in the totals only.
"""

import collections
import sqlite3
import statistics
import struct
import sys


def varint(data, index):
    value = 0
    for step in range(9):
        byte = data[index + step]
        if step == 8:
            return (value << 8) | byte, index + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, index + step + 1


def commits_of(log):
    magic, version, page_size, sequence, salt1, salt2, _, _ = struct.unpack(">IIIIIIII", log[:32])
    if magic not in (0x377F0682, 0x377F0683):
        sys.exit("not a write-ahead log")
    commits, current, offset = [], [], 32
    while offset + 24 + page_size <= len(log):
        page, commit_size, frame_salt1, frame_salt2 = struct.unpack(">IIII", log[offset:offset + 16])
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # frames of an earlier round of the log
        current.append((page, log[offset + 24:offset + 24 + page_size]))
        if commit_size:
            commits.append(current)
            current = []
        offset += 24 + page_size
    return commits


def kind_of(page, data, names):
    if page == 1:
        return "page 1 (header, freelist count)"
    kind = {13: "leaf table", 5: "interior table", 10: "leaf index", 2: "interior index"}.get(data[0])
    name = names.get(page, "?")
    if kind is None:
        return "freelist trunk or overflow " + name
    cells = struct.unpack(">H", data[3:5])[0]
    if data[0] in (13, 10) and cells:
        index = struct.unpack(">H", data[8:10])[0]
        _, index = varint(data, index)  # payload size
        if data[0] == 13:
            _, index = varint(data, index)  # row id
        header, cursor = varint(data, index)
        columns = 0
        while cursor < index + header:
            _, cursor = varint(data, cursor)
            columns += 1
        return f"{kind} ({columns} columns) {name}"
    return f"{kind} {name}"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    commits = commits_of(open(sys.argv[1], "rb").read())
    if not commits:
        sys.exit("no committed frames in this log")
    names = {}
    if len(sys.argv) == 3:
        wanted = {page for commit in commits for page, _ in commit}
        database = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
        for name, page in database.execute("SELECT name, pageno FROM dbstat"):
            if page in wanted:
                names[page] = name
    frames = sum(len(commit) for commit in commits)
    print(f"{len(commits)} commits, {frames} frames, {frames / len(commits):.1f} per commit")
    ordinary = [commit for commit in commits if len(commit) < 60]
    print(f"commits under 60 frames: {len(ordinary)}, median {statistics.median(len(c) for c in ordinary)} frames")
    counts = collections.Counter(kind_of(page, data, names) for commit in ordinary for page, data in commit)
    for kind, count in counts.most_common(30):
        print(f"  {kind:55} {count / len(ordinary):6.2f} per commit")


main()
