import ArgumentParser
import JSON

#if canImport(Glibc)
    import Glibc
#endif

/// The one output option of every command: a table (or `key: value` lines) for people, JSON for
/// scripts.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table, for scripts.") var json = false
}

/// How bookingctl prints. Results go to standard output: rows as a table whose columns line up on
/// a terminal and are separated by tabs otherwise (for `cut` and `awk`), a result as `key: value`
/// lines, or either as JSON with `--json`. Notes and progress go to standard error.
enum Output {
    /// Rows under `header`; with `json`, an array of objects with the header's names as keys.
    static func table(_ header: [String], _ rows: [[String]], json: Bool) {
        if json {
            document(JSON.array(rows.map { row in .object(Dictionary(uniqueKeysWithValues: zip(header, row.map(JSON.string)))) }).serialized())
            return
        }
        guard isatty(1) == 1 else {
            for row in [header] + rows { print(row.joined(separator: "\t")) }
            return
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            print(cells.joined(separator: "  "))
        }
    }

    /// One result: `key: value` lines, or one JSON object with `json`.
    static func record(_ fields: [(String, JSON)], json: Bool) {
        if json {
            document(JSON.object(Dictionary(fields, uniquingKeysWith: { first, _ in first })).serialized())
            return
        }
        for (key, value) in fields {
            switch value {
            case .string(let text): print("\(key): \(text)")
            default: print("\(key): \(String(decoding: value.serialized(), as: UTF8.self))")
            }
        }
    }

    /// A document (JSON or CSV bytes), with a line break after JSON.
    static func document(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }

    /// A short text on standard error, apart from the result on standard output.
    static func note(_ text: String) {
        let line = text.hasSuffix("\n") ? text : text + "\n"
        _ = Array(line.utf8).withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// The progress of a long run (copying, pruning, claiming), on standard error: a line at most
/// once a second while it goes on, rewritten in place on a terminal, and one when a part ends.
final class Progress {
    private var lastSecond = 0
    private let inPlace = isatty(2) == 1

    /// `count` of `what` done so far (`total` when known); `done` ends the part's line.
    func report(_ what: String, _ count: Int, of total: Int? = nil, done: Bool = false) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        guard done || now.tv_sec > lastSecond else { return }
        lastSecond = now.tv_sec
        let line = "\(what): \(count)" + (total.map { " of \($0)" } ?? "") + (done ? ", done" : "")
        let text = inPlace ? "\r\u{1B}[K" + line + (done ? "\n" : "") : line + "\n"
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
