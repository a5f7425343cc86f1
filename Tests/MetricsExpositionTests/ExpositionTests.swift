import MetricsExposition
import Testing

@Suite struct ExpositionTests {
    @Test func sumsEachSeriesOverTheProcessesAndKeepsEachFamilyOnce() {
        let first = """
            # TYPE requests_total counter
            requests_total{route="book",status="201"} 3
            requests_total{route="book",status="409"} 1
            # TYPE duration_seconds histogram
            duration_seconds_bucket{route="book",le="0.001"} 2
            duration_seconds_bucket{route="book",le="+Inf"} 4
            duration_seconds_sum{route="book"} 0.25
            duration_seconds_count{route="book"} 4

            """
        let second = """
            # TYPE duration_seconds histogram
            duration_seconds_bucket{route="book",le="0.001"} 1
            duration_seconds_bucket{route="book",le="+Inf"} 1
            duration_seconds_sum{route="book"} 0.5
            duration_seconds_count{route="book"} 1
            # TYPE requests_total counter
            requests_total{route="book",status="201"} 2
            requests_total{route="healthz",status="200"} 7
            # TYPE restarts_total counter
            restarts_total 1

            """
        #expect(
            Exposition.sum([first, second, ""]) == """
                # TYPE duration_seconds histogram
                duration_seconds_bucket{route="book",le="0.001"} 3
                duration_seconds_bucket{route="book",le="+Inf"} 5
                duration_seconds_sum{route="book"} 0.75
                duration_seconds_count{route="book"} 5
                # TYPE requests_total counter
                requests_total{route="book",status="201"} 5
                requests_total{route="book",status="409"} 1
                requests_total{route="healthz",status="200"} 7
                # TYPE restarts_total counter
                restarts_total 1

                """)
    }

    @Test func aSumOfSumsIsTheSumOfAll() {
        let texts = (1...4).map { "# TYPE a_total counter\na_total{x=\"y z\"} \($0)\n" }
        let pairwise = Exposition.sum([Exposition.sum(Array(texts[..<2])), Exposition.sum(Array(texts[2...]))])
        #expect(pairwise == Exposition.sum(texts))
        #expect(pairwise == "# TYPE a_total counter\na_total{x=\"y z\"} 10\n", "a label value with a space")
    }

    @Test func linesThatAreNotSamplesAreDropped() {
        #expect(Exposition.sum(["# TYPE a gauge\na 1\nnot a sample\n# a comment\na 2.5\n"]) == "# TYPE a gauge\na 3.5\n")
    }
}

@Suite struct MetricsAddressTests {
    @Test func readsHostAndPort() throws {
        let v4 = try MetricsAddress(parsing: "127.0.0.1:9464")
        #expect(v4.host == "127.0.0.1" && v4.port == 9464 && v4.description == "127.0.0.1:9464")
        let v6 = try MetricsAddress(parsing: "[::1]:9464")
        #expect(v6.host == "::1" && v6.port == 9464 && v6.description == "[::1]:9464")
        #expect(try MetricsAddress(parsing: "metrics.internal:80").host == "metrics.internal")
        for wrong in ["9464", ":9464", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "host name:1", "a/b:1", "127.0.0.1:http"] {
            #expect(throws: MetricsError.self, "\(wrong)") { try MetricsAddress(parsing: wrong) }
        }
    }
}
