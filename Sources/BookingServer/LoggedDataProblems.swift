import Booking
import Logging
import Synchronization

/// Reports problems in the stored data as warnings, once per document and value per process:
/// a catalog rebuilt every second would otherwise repeat the same line every second.
final class LoggedDataProblems: DataProblemReporter {
    private let logger: Logger
    private let reported = Mutex<Set<String>>([])

    init(logger: Logger) {
        self.logger = logger
    }

    func report(_ problem: DataProblem) {
        let subject = problem.subject
        guard reported.withLock({ $0.insert(subject).inserted }) else { return }
        logger.warning("\(problem.description)")
    }
}
