// meridian-genesis: writes the demo chain spec (Genesis/demo.json) from the demo cast.
// Usage: meridian-genesis demo > Genesis/demo.json
import MeridianDemo
import Foundation

let args = CommandLine.arguments.dropFirst()
guard args.first == "demo" else {
    FileHandle.standardError.write(Data("usage: meridian-genesis demo > Genesis/demo.json\n".utf8))
    exit(64)
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
let data = try encoder.encode(DemoCast.genesisSpec())
FileHandle.standardOutput.write(data + Data("\n".utf8))
