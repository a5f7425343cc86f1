#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call's error number, with the system's words for it.
///
/// `errno` belongs to the call that set it and is overwritten by the next one that fails
/// (logging included), so it is captured with `SystemError.last()` in the statement right after
/// the call, and turned into words here, in one place.
public struct SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    public let number: Int32

    public init(number: Int32) {
        self.number = number
    }

    /// The calling thread's `errno`: call right after the call that failed.
    public static func last() -> SystemError {
        SystemError(number: errno)
    }

    /// The system's message for the error, such as "No such file or directory".
    public var description: String {
        String(cString: strerror(number))
    }
}
