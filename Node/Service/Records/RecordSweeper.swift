import ServiceLifecycle

/// Runs the erasure sweep every `interval` until the node stops: bodies of records erased on chain
/// are deleted here, and as custodian the unacknowledged notices are (re)sent.
struct RecordSweeper: Service {
    let records: RecordService
    let interval: Duration

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled {
                await records.sweepErasures()
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {}
        // The loop ends with the task's cancellation, which the service group sends after shutdown.
    }
}
