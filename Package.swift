// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "booking",
    products: [
        .executable(name: "booking-server", targets: ["BookingServer"]),
        .executable(name: "bookingctl", targets: ["bookingctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // C libraries from Debian: module maps only.
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "SystemError"),  // errno in words, captured right after its call; folder entries, files, processes
        .target(name: "PosixThread"),
        .target(name: "JSON"),
        // The server's log lines: one JSON object per line.
        .target(name: "JSONLog", dependencies: ["DocumentStore", "JSON", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Gzip", dependencies: ["CZlib"]),
        .target(
            name: "FastCGI",
            dependencies: [
                "CFastCGI", "PosixThread", "SystemError", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        // Prometheus metrics of every worker process, summed and served on their own listener.
        .target(
            name: "MetricsExposition",
            dependencies: [
                "PosixThread", "SystemError", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "DocumentStore", dependencies: ["JSON"]),  // the protocol, and its in-memory twin
        .target(name: "PostgresStore", dependencies: ["DocumentStore", "JSON", "CPostgres", "SystemError"]),
        .target(
            name: "FirestoreStore",
            dependencies: [
                "DocumentStore", "JSON", "CurlClients", "TextEncodings", .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        // Blocking clients on libcurl: HTTP (the Firestore gateway, webhooks) and SMTP (email).
        .target(name: "CurlClients", dependencies: ["CCurl"]),
        // Telling the world of booking changes: the outbox's delivery, signed webhooks, email.
        .target(
            name: "Notifications",
            dependencies: [
                "Booking", "DocumentStore", "CurlClients", "JSON", "PosixThread", "TextEncodings", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .target(
            name: "StoreConfiguration", dependencies: ["Booking", "DocumentStore", "PostgresStore", "FirestoreStore", "SystemError", "TimeZones"]),
        .target(name: "TextEncodings"),  // base64url, hex and percent-encoding
        .target(name: "Booking", dependencies: ["DocumentStore", "TextEncodings", .product(name: "Crypto", package: "swift-crypto")]),
        // The system's zone database, for slots stored as local times (Foundation's TimeZone).
        .target(name: "TimeZones", dependencies: ["Booking", "DocumentStore"]),
        // The read path: cached and published bodies, the services' definitions, the host's change counters.
        .target(
            name: "ReadModel",
            dependencies: [
                "Booking", "DocumentStore", "Gzip", "SystemError", .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        // Idempotency keys: a repeated request answered with its first response, on any host.
        .target(
            name: "Idempotency", dependencies: ["DocumentStore", "TextEncodings", .product(name: "Crypto", package: "swift-crypto")]),
        // Bookings as JSON and CSV, for the API and bookingctl.
        .target(name: "BookingFormats", dependencies: ["Booking", "DocumentStore", "JSON"]),
        .target(
            name: "BookingAPI",
            dependencies: [
                "Booking", "BookingFormats", "DocumentStore", "FastCGI", "Idempotency", "JSON", "ReadModel", "TextEncodings",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        // The composition root, for the server and the tests.
        .target(
            name: "BookingApplication",
            dependencies: [
                "Booking", "BookingAPI", "DocumentStore", "FastCGI", "Idempotency", "MetricsExposition", "Notifications", "ReadModel",
                "StoreConfiguration", "SystemError",
                "TimeZones", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .executableTarget(
            name: "BookingServer",
            dependencies: [
                "BookingApplication", "Booking", "DocumentStore", "FastCGI", "JSONLog", "MetricsExposition", "ReadModel", "StoreConfiguration",
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .executableTarget(
            name: "bookingctl",
            dependencies: [
                "Booking", "BookingFormats", "DocumentStore", "Idempotency", "JSON", "Notifications", "PostgresStore", "StoreConfiguration",
                "TimeZones",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Test support: the conformance suite every DocumentStore implementation runs, and the helpers the tests share.
        .target(name: "DocumentStoreConformance", dependencies: ["DocumentStore"], path: "Tests/DocumentStoreConformance"),
        .target(
            name: "TestSupport",
            dependencies: [
                "BookingAPI", "BookingApplication", "DocumentStore", "FastCGI", "JSON", "ReadModel", .product(name: "Logging", package: "swift-log"),
            ], path: "Tests/TestSupport"),

        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "MetricsExpositionTests", dependencies: ["MetricsExposition"]),
        .testTarget(name: "JSONLogTests", dependencies: ["JSONLog", "JSON", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "DocumentStoreTests", dependencies: ["DocumentStore", "DocumentStoreConformance"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip", "CZlib"]),
        .testTarget(name: "IdempotencyTests", dependencies: ["Idempotency", "DocumentStore", "SystemError"]),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI", "CFastCGI", "PosixThread", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "BookingTests",
            dependencies: [
                "Booking", "DocumentStore", "DocumentStoreConformance", "PostgresStore", "StoreConfiguration", "TestSupport", "TimeZones",
            ]),
        .testTarget(
            name: "ReadModelTests",
            dependencies: [
                "ReadModel", "Booking", "DocumentStore", "FastCGI", "Gzip", "PosixThread", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "BookingAPITests",
            dependencies: [
                "BookingAPI", "BookingApplication", "Booking", "BookingFormats", "DocumentStore", "DocumentStoreConformance", "FastCGI", "Gzip",
                "JSON", "ReadModel", "StoreConfiguration",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Booking", "CurlClients", "DocumentStore", "DocumentStoreConformance", "TestSupport", "TextEncodings", "TimeZones",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "DocumentStoreConformance", "CPostgres", "TestSupport"]),
        .testTarget(
            name: "FirestoreStoreTests",
            dependencies: [
                "FirestoreStore", "DocumentStoreConformance", "CurlClients", "JSON", "TestSupport",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
    ]
)
