/// Prometheus text exposition of several processes summed into one: the samples that several
/// processes report for one series (a name with its labels) are added, so that a scrape sees the
/// host's totals whichever worker process served each request.
///
/// The processes' registries are separate (each is swift-prometheus's, in its own process), so
/// their texts are summed here rather than their values shared.
public enum Exposition {
    /// The content type of the text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `texts` summed: families in name order, each with its `# HELP` and `# TYPE` lines once and
    /// its series in the order first seen. Lines that are neither comments nor samples are dropped.
    public static func sum(_ texts: [String]) -> String {
        var families: [String: Family] = [:]
        for text in texts {
            var current = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("# ") {
                    let words = line.split(separator: " ", maxSplits: 3)
                    guard words.count >= 3 else { continue }
                    current = String(words[2])
                    let rest = words.count > 3 ? String(words[3]) : ""
                    if words[1] == "TYPE" { families[current, default: Family()].type = rest }
                    if words[1] == "HELP" { families[current, default: Family()].help = rest }
                    continue
                }
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                let series = String(line[..<space])
                let name = current.isEmpty || !series.hasPrefix(current) ? String(series.prefix { $0 != "{" && $0 != " " }) : current
                families[name, default: Family()].add(series, value)
            }
        }
        var output = ""
        for name in families.keys.sorted() {
            let family = families[name]!
            if let help = family.help { output += "# HELP \(name) \(help)\n" }
            if let type = family.type { output += "# TYPE \(name) \(type)\n" }
            for series in family.order { output += "\(series) \(spelled(family.values[series]!))\n" }
        }
        return output
    }

    /// A family's type and help, and its series' sums.
    private struct Family {
        var type: String?
        var help: String?
        var order: [String] = []
        var values: [String: Double] = [:]

        mutating func add(_ series: String, _ value: Double) {
            if let sum = values[series] {
                values[series] = sum + value
            } else {
                values[series] = value
                order.append(series)
            }
        }
    }

    /// A whole number without a fraction (counts), else Swift's shortest exact spelling.
    private static func spelled(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9.0e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
