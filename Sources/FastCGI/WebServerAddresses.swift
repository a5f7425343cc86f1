#if canImport(Glibc)
    import Glibc
#endif

/// Which peers a TCP listener takes connections from, as libfcgi's `FCGI_WEB_SERVER_ADDRS` says
/// (the web servers' addresses), and the socket options a TCP connection needs.
///
/// Plain FastCGI has neither authentication nor encryption: anyone who can connect can send any
/// request with any parameters. The list narrows who can; a private network is still needed.
struct WebServerAddresses: Sendable {
    /// The addresses in their canonical text form (inet_ntop's); nil admits every peer.
    private let allowed: Set<String>?
    private let isTCP: Bool

    init(allowed: [String]?, listener: Int32) {
        self.allowed = allowed.map { Set($0.compactMap(Self.canonical)) }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        isTCP = named == 0 && (Int32(address.ss_family) == AF_INET || Int32(address.ss_family) == AF_INET6)
    }

    /// Whether `connection` comes from an allowed peer; a TCP one also gets TCP_NODELAY (a
    /// response's records go out at once, not held back for more).
    func admit(_ connection: Int32) -> Bool {
        guard isTCP else { return true }
        var on: Int32 = 1
        setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        guard let allowed else { return true }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(connection, $0, &length) }
        }
        guard named == 0, let peer = Self.text(of: &address) else { return false }
        return allowed.contains(peer)
    }

    /// The address in inet_ntop's form, an IPv4 address mapped into IPv6 as plain IPv4; nil when
    /// `text` is not an address.
    static func canonical(_ text: String) -> String? {
        var storage = sockaddr_storage()
        let parsed = withUnsafeMutablePointer(to: &storage) { pointer in
            if text.contains(":") {
                pointer.pointee.ss_family = sa_family_t(AF_INET6)
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet_pton(AF_INET6, text, &$0.pointee.sin6_addr) }
            }
            pointer.pointee.ss_family = sa_family_t(AF_INET)
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet_pton(AF_INET, text, &$0.pointee.sin_addr) }
        }
        return parsed == 1 ? Self.text(of: &storage) : nil
    }

    private static func text(of address: inout sockaddr_storage) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written: UnsafePointer<CChar>?
        switch Int32(address.ss_family) {
        case AF_INET:
            written = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet_ntop(AF_INET, &$0.pointee.sin_addr, &buffer, socklen_t(buffer.count)) }
            }
        case AF_INET6:
            written = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    inet_ntop(AF_INET6, &$0.pointee.sin6_addr, &buffer, socklen_t(buffer.count))
                }
            }
        default: return nil
        }
        guard written != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
    }
}
