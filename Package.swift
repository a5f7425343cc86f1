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
    ],
    targets: [
        // C libraries from Debian: module maps only.
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "JSON"),
        .target(name: "Gzip", dependencies: ["CZlib"]),
        .target(name: "FastCGI", dependencies: [
            "CFastCGI", .product(name: "Atomics", package: "swift-atomics"), .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DocumentStore", dependencies: ["JSON"]),  // the protocol, and its in-memory twin
        .target(name: "PostgresStore", dependencies: ["DocumentStore", "JSON", "CPostgres"]),
        .target(name: "FirestoreStore", dependencies: [
            "DocumentStore", "JSON", "CCurl", .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "StoreConfiguration", dependencies: ["Booking", "DocumentStore", "PostgresStore", "FirestoreStore", "TimeZones"]),
        .target(name: "Booking", dependencies: ["DocumentStore"]),
        // The system's zone database, for slots stored as local times (Foundation's TimeZone).
        .target(name: "TimeZones", dependencies: ["Booking", "DocumentStore"]),
        .target(name: "HostCounters", dependencies: ["Booking", .product(name: "Atomics", package: "swift-atomics")]),
        .target(name: "BookingAPI", dependencies: [
            "Booking", "DocumentStore", "FastCGI", "Gzip", "HostCounters", "JSON", .product(name: "Atomics", package: "swift-atomics"),
        ]),
        .executableTarget(name: "BookingServer", dependencies: [
            "BookingAPI", "Booking", "FastCGI", "HostCounters", "StoreConfiguration", "TimeZones",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "bookingctl", dependencies: [
            "Booking", "DocumentStore", "PostgresStore", "StoreConfiguration", "TimeZones",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test support: the conformance suite every DocumentStore implementation runs.
        .target(name: "DocumentStoreConformance", dependencies: ["DocumentStore"], path: "Tests/DocumentStoreConformance"),

        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "DocumentStoreTests", dependencies: ["DocumentStore", "DocumentStoreConformance"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip", "CZlib"]),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI", "CFastCGI", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "BookingTests", dependencies: ["Booking", "HostCounters", "PostgresStore", "DocumentStoreConformance", "TimeZones"]),
        .testTarget(name: "BookingAPITests", dependencies: [
            "BookingAPI", "Booking", "FastCGI", "Gzip", "HostCounters", "JSON", "PostgresStore", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "DocumentStoreConformance", "CPostgres"]),
        .testTarget(name: "FirestoreStoreTests", dependencies: [
            "FirestoreStore", "DocumentStoreConformance", "JSON", .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
    ]
)
