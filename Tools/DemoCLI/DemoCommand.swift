// meridian-demo: what only the demo network needs, kept out of the production CLIs: the demo cast's
// keys as encrypted keystores (their keys are derived from public names, so they protect nothing)
// and the demo patients' summaries as their custodians would hold them.
import ArgumentParser

@main
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-demo",
        abstract: "Demo network only: the demo cast's keystores and the demo patients' IPS documents.",
        subcommands: [KeysCommand.self, DemoSummaryCommand.self, TamperCommand.self])
}
