import Foundation
import Synchronization
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianLightClient

/// The node's own light client, for the console: it verifies every stored header from genesis
/// (each commit certificate against the validator set it proves), then checks audit entries
/// against the state root of the last verified — finalised — header, exactly as a regulator's
/// `meridian-audit verify` does against any node. The console shows its result on each row, so a
/// row whose entry does not match the finalised state is marked, not silently shown.
final class ProofChecker: Sendable {
    struct Check: Sendable {
        let verified: Bool
        let height: UInt64
        let blockHash: Bytes32?
        let detail: String
    }

    private let query: QueryService
    private let client: Mutex<LightClient>

    init(genesis spec: GenesisSpec, query: QueryService) throws {
        self.query = query
        client = Mutex(try LightClient(genesis: spec))
    }

    /// Verifies the stored headers the client has not seen yet (up to `max` per call, so a page
    /// never waits long; the next call goes on). Returns the verified head's height.
    @discardableResult
    func catchUp(max: Int = 2000) -> UInt64 {
        client.withLock { c in
            let head = (try? query.store.headHeight()) ?? 0
            var steps = 0
            while c.head.height < head && steps < max {
                let h = c.head.height + 1
                guard let header = try? query.store.header(at: h), let certificate = try? query.store.commit(at: h) else { break }
                var setEntry: (value: [UInt8], proof: StateProof)?
                if header.validatorsHash != ValidatorPower.setHash(c.validators) {
                    // Kept aside once the state of h - 1 is pruned.
                    // A kept set that cannot be read, or whose proof does not decode, stops verification
                    // here (pages then say how far it got), never a fall back to a state version that may
                    // be pruned.
                    let kept: (value: [UInt8], proof: [UInt8])?
                    do { kept = try query.store.lightSet(at: h) } catch { break }
                    if let kept {
                        let proof: StateProof
                        do { proof = try StateProof(canonicalBytes: kept.proof) } catch { break }
                        setEntry = (kept.value, proof)
                    } else if let e = try? query.proof(Validators.setKey.bytes, at: h - 1), let v = e.value {
                        setEntry = (v, e.proof)
                    }
                }
                do { try c.verifyNext(header, certificate: certificate, validatorSet: setEntry) } catch { break }
                steps += 1
            }
            return c.head.height
        }
    }

    /// Checks one state entry (its stored bytes) against the last verified — finalised — header
    /// (a page calls `catchUp` once before checking its rows).
    func check(key: [UInt8], value: [UInt8]) -> Check {
        let height = client.withLock { $0.head.height }
        guard height > 0 else { return Check(verified: false, height: 0, blockHash: nil, detail: "no finalised header verified yet") }
        guard let entry = try? query.proof(key, at: height) else {
            return Check(verified: false, height: height, blockHash: nil, detail: "no proof at height \(height)")
        }
        let (hash, result): (Bytes32, Result<Void, LightClientError>) = client.withLock { c in
            let r: Result<Void, LightClientError>
            do throws(LightClientError) { try c.verifyEntry(key: key, value: value, proof: entry.proof, height: height); r = .success(()) } catch { r = .failure(error) }
            return (c.head.hash, r)
        }
        switch result {
        case .success: return Check(verified: true, height: height, blockHash: hash, detail: "proven against the state root of finalised block \(height)")
        case .failure(let e): return Check(verified: false, height: height, blockHash: hash, detail: e.message)
        }
    }
}
