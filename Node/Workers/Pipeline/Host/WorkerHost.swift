public import Logging
public import ServiceLifecycle
public import Prometheus
import NIOCore
import NIOPosix
import Synchronization

/// An off-chain worker: a long-running loop inside the node, beside consensus and never inside
/// block execution. It reads its own bounded input and may fail; the host restarts it.
public protocol Worker: Sendable {
    /// A stable name for logs and metrics ("risk", "anchor").
    var name: String { get }
    /// Runs until cancelled; throwing means the worker failed and is restarted.
    func run(metrics: WorkerMetrics) async throws
}

/// One worker's Prometheus series, labelled `worker="<name>"`.
public struct WorkerMetrics: Sendable {
    public let processed: Counter
    public let refused: Counter
    public let restarts: Counter
    public let queueDepth: Gauge
    public let seconds: ValueHistogram

    public init(registry: PrometheusCollectorRegistry, worker: String) {
        let l = [("worker", worker)]
        processed = registry.makeCounter(name: "meridian_worker_processed_total", labels: l, help: "Items a worker finished")
        refused = registry.makeCounter(name: "meridian_worker_refused_total", labels: l, help: "Items a worker refused (bad input)")
        restarts = registry.makeCounter(name: "meridian_worker_restarts_total", labels: l, help: "Times the host restarted a failed worker")
        queueDepth = registry.makeGauge(name: "meridian_worker_queue_depth", labels: l, help: "Items waiting in a worker's input queue")
        seconds = registry.makeValueHistogram(name: "meridian_worker_item_seconds", labels: l,
                                              buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05], help: "Time per item")
    }
}

/// Runs the node's workers, each in its own task, restarting a worker that fails with an
/// exponential backoff (100 ms doubling to 10 s, reset after a minute of good running), until the
/// node shuts down. A failing worker never stops the node or another worker.
public struct WorkerHost: Service {
    let workers: [any Worker]
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    /// Each worker's failures, for the node's readiness check.
    public let health: WorkerHealth

    public init(workers: [any Worker], registry: PrometheusCollectorRegistry, logger: Logger, health: WorkerHealth = WorkerHealth()) {
        self.workers = workers; self.registry = registry; self.logger = logger; self.health = health
    }

    public func run() async throws {
        // Each worker runs on a thread of its own, never on the event loops that serve the API (in
        // `meridian-node start` those also run Swift Concurrency's jobs) nor on another worker's:
        // a risk worker draining a backlog re-enqueues itself job after job, which on an event loop
        // starved the socket reads queued behind it (a critical reading's request waited 25-75 ms
        // behind 5,000 routine batches), and an anchor worker hashing a 100,000-result batch held a
        // shared worker thread for 100-200 ms while a critical batch waited in the risk worker's
        // inbox (BENCHMARKS.md). On threads of their own the kernel shares the cores instead.
        let threads = MultiThreadedEventLoopGroup(numberOfThreads: max(1, workers.count))
        defer { threads.shutdownGracefully { _ in } }
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for w in workers {
                    let metrics = WorkerMetrics(registry: registry, worker: w.name)
                    group.addTask(executorPreference: EventLoopTaskExecutor(loop: threads.next())) { await supervise(w, metrics: metrics) }
                }
            }
        }
    }

    func supervise(_ w: any Worker, metrics: WorkerMetrics) async {
        var backoffMilliseconds = 100
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await w.run(metrics: metrics)
                if Task.isCancelled { return }
                logger.warning("worker returned; restarting", metadata: ["worker": "\(w.name)"])
                health.failed(w.name)
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.error("worker failed; restarting", metadata: ["worker": "\(w.name)", "error": "\(error)", "backoff_ms": "\(backoffMilliseconds)"])
                health.failed(w.name)
            }
            metrics.restarts.increment()
            if ContinuousClock.now - started > .seconds(60) { backoffMilliseconds = 100 }
            try? await Task.sleep(for: .milliseconds(backoffMilliseconds))
            backoffMilliseconds = min(backoffMilliseconds * 2, 10_000)
        }
    }
}

/// The recent failures of each worker the host runs, read by the node's readiness check: a worker
/// that failed `failuresToBeUnready` times within `window` is crash-looping, and the node says so
/// (naming it; its errors are in the log) rather than report ready while, say, no risk is scored.
public final class WorkerHealth: Sendable {
    public static let failuresToBeUnready = 3
    public static let window: Duration = .seconds(300)
    private let state = Mutex<[String: [ContinuousClock.Instant]]>([:])

    public init() {}

    /// Records a failure of `worker` now (bounded: only the failures within the window are kept).
    public func failed(_ worker: String, at now: ContinuousClock.Instant = .now) {
        state.withLock { s in s[worker] = (s[worker] ?? []).filter { now - $0 < Self.window } + [now] }
    }

    /// The workers failing now, with their failures within the window, by name.
    public func failing(at now: ContinuousClock.Instant = .now) -> [(worker: String, failures: Int)] {
        state.withLock { s in
            s.compactMap { name, times in
                let recent = times.filter { now - $0 < Self.window }.count
                return recent >= Self.failuresToBeUnready ? (name, recent) : nil
            }.sorted { $0.worker < $1.worker }
        }
    }
}

/// Runs Swift Concurrency jobs on one SwiftNIO event loop (a thread of its own). Written here
/// because this SwiftNIO version offers an event loop as a serial executor only, not as the task
/// executor a task group's child can prefer.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let loop: any EventLoop
    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
