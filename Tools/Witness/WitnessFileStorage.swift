import Foundation
import MeridianCore
import MeridianTransparency

/// The witness's durable record: one file per log, `<SHA-256 of the origin, hex>.checkpoint`, holding
/// the latest cosigned checkpoint as the signed note the witness serves. Replaced atomically: the
/// new note is written to a temporary file, synced, renamed over the old one, and the directory is
/// synced, so a SIGKILL or a power cut leaves either the old checkpoint or the new one, never a mix.
/// Hand-written because it is twenty lines of POSIX; a database would be the larger dependency.
final class WitnessFileStorage: WitnessStorage, @unchecked Sendable {
    // @unchecked: called under TlogWitness's lock; no mutable state of its own.
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func path(_ origin: String) -> String { directory + "/" + SHA256.hash(Array(origin.utf8)).hex + ".checkpoint" }

    func latest(origin: String) throws -> WitnessedCheckpoint? {
        let file = path(origin)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else { throw WitnessStorageError("cannot read \(file)") }
        do {
            let note = try SignedNote(parsing: Array(data))
            let checkpoint = try Checkpoint(parsing: note.text)
            guard checkpoint.origin == origin else { throw WitnessStorageError("\(file) holds the checkpoint of another log") }
            return WitnessedCheckpoint(size: checkpoint.size, root: checkpoint.root, note: Array(data))
        } catch let e as NoteError {
            throw WitnessStorageError("\(file) is not a checkpoint (\(e)); the witness refuses to cosign rather than forget what it cosigned")
        }
    }

    func replace(origin: String, with checkpoint: WitnessedCheckpoint) throws {
        let file = path(origin), temporary = file + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WitnessStorageError("\(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = checkpoint.note.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else { let e = String(cString: strerror(errno)); close(fd); throw WitnessStorageError("\(temporary): \(e)") }
        close(fd)
        guard rename(temporary, file) == 0 else { throw WitnessStorageError("rename to \(file): \(String(cString: strerror(errno)))") }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw WitnessStorageError("\(directory): \(String(cString: strerror(errno)))") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw WitnessStorageError("sync \(directory): \(String(cString: strerror(errno)))") }
    }
}

struct WitnessStorageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
