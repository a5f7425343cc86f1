import Booking
import Synchronization

/// Passes each problem on once per subject (document and value) and keeps them all: a catalog
/// rebuilt every second would otherwise report the same document every second.
public final class ProblemsReportedOnce: DataProblemReporter {
    private let output: @Sendable (DataProblem) -> Void
    private let found = Mutex<(all: [DataProblem], subjects: Set<String>)>(([], []))

    /// - Parameter output: where a problem goes the first time: a log line, a printed line.
    public init(_ output: @escaping @Sendable (DataProblem) -> Void) {
        self.output = output
    }

    /// Every problem reported so far, once each, in the order they came.
    public var all: [DataProblem] { found.withLock { $0.all } }

    public func report(_ problem: DataProblem) {
        let isNew = found.withLock { found in
            guard found.subjects.insert(problem.subject).inserted else { return false }
            found.all.append(problem)
            return true
        }
        if isNew { output(problem) }
    }
}
