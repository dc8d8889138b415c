import Testing
import MeridianTransparency

/// c2sp.org/tlog-tiles resource paths: the specification's examples, round trips, and the one
/// spelling of each resource.
@Suite(.timeLimit(.minutes(5))) struct TilePathTests {
    @Test func theSpecificationsExamplesAndRoundTrips() throws {
        #expect(TilePath.hashes(level: 0, index: 1_234_067, width: 256).path == "tile/0/x001/x234/067")
        #expect(TilePath.hashes(level: 1, index: 0, width: 17).path == "tile/1/000.p/17")
        #expect(TilePath.entries(index: 273, width: 112).path == "tile/entries/273.p/112")
        #expect(try TilePath(parsing: "tile/0/x001/x234/067") == .hashes(level: 0, index: 1_234_067, width: 256))
        #expect(try TilePath(parsing: "tile/entries/x001/000.p/255") == .entries(index: 1000, width: 255))
        for p: TilePath in [.hashes(level: 63, index: 0, width: 1), .hashes(level: 2, index: 999_999, width: 256), .entries(index: UInt64(1) << 40, width: 9)] {
            #expect(try TilePath(parsing: p.path) == p)
        }
    }

    @Test(arguments: ["tile/0/00", "tile/0/0000", "tile/0/x000/001", "tile/00/000", "tile/64/000", "tile/0/000.p/0", "tile/0/000.p/256",
                      "tile/0/000.p/07", "tile/0/001/002", "tile/0/y001/002", "tile/entry/000", "tiles/0/000", "tile/0/", "tile/0/x999/x999/x999/x999/x999/x999/x999/999"])
    func otherSpellingsAreRefused(_ path: String) {
        #expect(throws: NoteError.self, "\(path)") { try TilePath(parsing: path) }
    }
}
