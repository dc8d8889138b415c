import ServiceLifecycle

/// Runs the erasure sweep every `interval` until the node stops: bodies of records erased on chain
/// are deleted here, and as custodian the unacknowledged notices are (re)sent.
struct RecordSweeper: Service {
    let records: RecordService
    let interval: Duration

    func run() async throws {
        // A sweep in progress is cut short at shutdown: whatever it did not finish, the next start redoes.
        // A cancelled sleep ends the loop quietly: a service that throws would fail the node's exit.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await records.sweepErasures()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
