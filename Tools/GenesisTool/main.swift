// meridian-genesis: writes the demo chain spec (Genesis/demo.json) from the demo cast.
// Usage: meridian-genesis demo > Genesis/demo.json
import MeridianDemo
import Foundation
import ArgumentParser

struct GenesisArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-genesis")
    enum Spec: String, ExpressibleByArgument { case demo }
    @Argument(help: "Which chain spec to write (demo).") var spec: Spec
}
_ = GenesisArguments.parseOrExit()
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
let data = try encoder.encode(DemoCast.genesisSpec())
FileHandle.standardOutput.write(data + Data("\n".utf8))
