import CCurl

/// Sets a handle's options, failing with the option's number and libcurl's reason when it
/// refuses one (an option this libcurl lacks, or out of memory), instead of sending a
/// request that is not the one meant.
struct CurlOptions {
    let handle: UnsafeMutableRawPointer
    let request: String

    func set(_ option: CURLoption, _ value: Int) throws(HTTPClient.TransportError) {
        try check(booking_curl_set_long(handle, option, value), "option \(option.rawValue)")
    }

    func set(_ option: CURLoption, _ value: String) throws(HTTPClient.TransportError) {
        try check(booking_curl_set_string(handle, option, value), "option \(option.rawValue)")
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws(HTTPClient.TransportError) {
        try check(booking_curl_set_pointer(handle, option, pointer), "option \(option.rawValue)")
    }

    func check(_ result: CURLcode, _ what: String) throws(HTTPClient.TransportError) {
        guard result == CURLE_OK else {
            throw HTTPClient.TransportError(
                description: "\(request): libcurl refused \(what): \(String(cString: curl_easy_strerror(result)))",
                timedOut: false)
        }
    }
}
