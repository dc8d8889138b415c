// meridian-genesis: writes the demo chain spec (Genesis/demo.json) from the demo cast.
// Usage: meridian-genesis demo > Genesis/demo.json
//        meridian-genesis policy > Genesis/demo-witnesses.policy (the demo's tlog-policy: 2 of the 4 DPAs' witnesses)
import MeridianDemo
import Foundation
import ArgumentParser

struct GenesisArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-genesis")
    enum Spec: String, ExpressibleByArgument { case demo, policy }
    @Argument(help: "What to write: demo (the chain spec) or policy (the demo's witness policy).") var spec: Spec
}
let arguments = GenesisArguments.parseOrExit()
if arguments.spec == .policy {
    FileHandle.standardOutput.write(Data(DemoCast.witnessPolicy().utf8))
    exit(0)
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
let data = try encoder.encode(DemoCast.genesisSpec())
FileHandle.standardOutput.write(data + Data("\n".utf8))
