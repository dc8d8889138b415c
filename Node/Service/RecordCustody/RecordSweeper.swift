import ServiceLifecycle
public import MeridianCore
import MeridianModules

/// Carries out erasures: each committed `record.erased` event at once; every `retryInterval` the
/// notices still unacknowledged (a short list); and a full sweep of the records held here at start
/// and every `fullSweepInterval`, for erasures committed while the node was down or events the
/// hub dropped under load (it keeps the newest 1,024 per subscriber).
struct RecordSweeper: Service {
    let records: RecordService
    let events: EventHub
    let retryInterval: Duration
    var fullSweepInterval: Duration = .seconds(60)

    func run() async throws {
        // Cancellation ends both loops quietly: a service that throws would fail the node's exit.
        await cancelWhenGracefulShutdown {
            let stream = events.subscribe()
            await withTaskGroup(of: Void.self) { group in
                let pending = PendingErasures()
                group.addTask {
                    for await e in stream {
                        guard case .recordErased(let record, _, _) = e.event else { continue }
                        if await records.carryOutErasure(of: record) { await pending.add([record]) }
                    }
                }
                group.addTask {
                    var lastFull: ContinuousClock.Instant?
                    while !Task.isCancelled {
                        if lastFull.map({ ContinuousClock.now - $0 >= fullSweepInterval }) ?? true {
                            await pending.add(await records.sweepErasures())
                            lastFull = .now
                        } else {
                            for record in await pending.all() where !(await records.carryOutErasure(of: record)) { await pending.remove(record) }
                        }
                        try? await Task.sleep(for: retryInterval)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

/// Custodian records whose erasure notices are not all acknowledged yet.
actor PendingErasures {
    private var records: Set<Bytes32> = []
    func add(_ r: some Sequence<Bytes32>) { records.formUnion(r) }
    func remove(_ r: Bytes32) { records.remove(r) }
    func all() -> [Bytes32] { Array(records) }
}
