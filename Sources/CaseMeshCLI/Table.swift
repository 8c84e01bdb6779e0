/// A plain-text table: a header row and aligned columns, two spaces apart.
/// One column may be marked `flexible`: it is cut (with "…") so the table
/// fits `width`, because titles are long and terminals are not.
public struct Table: Sendable {
    public var headers: [String]
    public var rows: [[String]] = []
    public var flexible: Int?

    public init(_ headers: [String], flexible: Int? = nil) {
        self.headers = headers
        self.flexible = flexible
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public func render(width: Int = 120) -> String {
        let all = [headers] + rows
        var widths = headers.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        if let flexible, widths.indices.contains(flexible) {
            let others = widths.enumerated().filter { $0.offset != flexible }.map(\.element).reduce(0, +) + 2 * (widths.count - 1)
            widths[flexible] = max(headers[flexible].count, min(widths[flexible], width - others))
        }
        return all.map { row in
            row.enumerated().map { column, cell in
                let fitted = cell.count > widths[column] ? String(cell.prefix(max(widths[column] - 1, 0))) + "…" : cell
                return column == row.count - 1 ? fitted : fitted.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// The terminal's width from $COLUMNS, else 120.
public func terminalWidth(_ environment: [String: String]) -> Int {
    environment["COLUMNS"].flatMap(Int.init).map { max($0, 40) } ?? 120
}
