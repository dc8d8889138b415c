import Dispatch
public import MeridianVitals
public import MeridianStorage

/// Group commit for the reading store: concurrent ingestion requests wait while one synced RocksDB
/// write is in flight, then all that queued meanwhile go to disk in the next single write. One
/// fsync then acknowledges hundreds of frames, and each caller still returns only after its own
/// batches are on disk. The write runs on a dedicated queue (it blocks on fsync), never on the
/// cooperative thread pool.
public actor GroupCommitter {
    let store: ReadingStore
    private var waiting: [(batches: [ReadingBatch], continuation: CheckedContinuation<[ReadingStore.Outcome], any Error>)] = []
    private var writing = false
    private let queue = DispatchQueue(label: "meridian.vitals.commit")
    /// Largest number of batches in one write (bounds the write's size and latency).
    public static let maxBatchesPerWrite = 4096

    public init(store: ReadingStore) { self.store = store }

    /// Persists `batches` (synced) and returns their outcomes, in order.
    public func persist(_ batches: [ReadingBatch]) async throws -> [ReadingStore.Outcome] {
        guard !batches.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { c in
            waiting.append((batches, c))
            if !writing { writing = true; Task { await self.drain() } }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            var group: [(batches: [ReadingBatch], continuation: CheckedContinuation<[ReadingStore.Outcome], any Error>)] = []
            var count = 0
            while let next = waiting.first, group.isEmpty || count + next.batches.count <= Self.maxBatchesPerWrite {
                group.append(waiting.removeFirst()); count += next.batches.count
            }
            let all = group.flatMap(\.batches)
            let store = self.store
            let result: Result<[ReadingStore.Outcome], any Error> = await withCheckedContinuation { done in
                queue.async { done.resume(returning: Result { try store.persist(all) }) }
            }
            switch result {
            case .success(let outcomes):
                var at = 0
                for g in group { g.continuation.resume(returning: Array(outcomes[at..<(at + g.batches.count)])); at += g.batches.count }
            case .failure(let error):
                for g in group { g.continuation.resume(throwing: error) }
            }
        }
        writing = false
    }
}
