import Testing
import Foundation
import MeridianCore
import MeridianTransparency

/// C2SP signed notes and checkpoints, against the vectors of another implementation
/// (golang.org/x/mod/sumdb/note, `note_test.go` and its package example) and hostile inputs.
@Suite(.timeLimit(.minutes(5))) struct SignedNoteTests {
    // golang.org/x/mod/sumdb/note: the package example's keys, text and signature.
    static let peterVerifier = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let peterSigner = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let note = text + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test func signingReproducesTheGoVectorByteForByte() throws {
        let signer = try NoteSigner(parsing: Self.peterSigner)
        #expect(signer.verifierKey.encoded == Self.peterVerifier)
        let signed = SignedNote(text: Self.text, signatures: [try signer.sign(Self.text)])
        #expect(String(decoding: signed.bytes, as: UTF8.self) == Self.note)
    }

    @Test func theGoNoteVerifiesAndATamperedOneDoesNot() throws {
        let key = try NoteVerifierKey(parsing: Self.peterVerifier)
        let note = try SignedNote(parsing: Array(Self.note.utf8))
        #expect(note.text == Self.text && note.signatures.count == 1 && note.signatures[0].keyID == 0xc74f20a3)
        #expect(try note.verified(by: [key]) == [key])
        let tampered = try SignedNote(parsing: Array(Self.note.replacingOccurrences(of: "cryptography", with: "cryptographY").utf8))
        #expect(throws: NoteError("note.invalid_signature", "")) { try tampered.verified(by: [key]) }
        // A key that shares the name but not the ID is unknown: its "signature" is ignored, and then nothing verifies.
        let other = try NoteSigner(name: "PeterNeumann", seed: [UInt8](repeating: 7, count: 32)).verifierKey
        let error = #expect(throws: NoteError.self) { try note.verified(by: [other]) }
        #expect(error?.code == "note.unverified")
    }

    @Test(arguments: [
        ("no signature lines", "text\n\n", "note.no_signatures"),
        ("no blank line", "text\n\u{2014} a AAAAAAA=\n", "note.no_signatures"),
        ("no final newline", "text\n\n\u{2014} a AAAAAAA=", "note.no_final_newline"),
        ("a control character", "te\u{7}xt\n\n\u{2014} a AAAAAAA=\n", "note.control_character"),
        ("a carriage return", "text\r\n\n\u{2014} a AAAAAAA=\n", "note.control_character"),
        ("a hyphen for the em dash", "text\n\n- a AAAAAAA=\n", "note.bad_signature_line"),
        ("a plus in the key name", "text\n\n\u{2014} a+b AAAAAAA=\n", "note.bad_key_name"),
        ("a no-break space in the key name", "text\n\n\u{2014} a\u{00A0}b AAAAAAA=\n", "note.bad_key_name"),
        ("too short a signature", "text\n\n\u{2014} a AAAA\n", "note.bad_signature"),
        ("base64 without padding", "text\n\n\u{2014} a AAAAAAA\n", "note.bad_signature"),
        ("non-canonical base64 bits", "text\n\n\u{2014} a AAAAAAB=\n", "note.bad_signature"),
        ("a blank line after the signatures (which makes them text)", "text\n\n\u{2014} a AAAAAAA=\n\n", "note.no_signatures"),
    ])
    func malformedNotesAreRefusedWithTheirReason(_ what: String, _ note: String, _ code: String) {
        do {
            _ = try SignedNote(parsing: Array(note.utf8))
            Issue.record("\(what): accepted")
        } catch {
            #expect(error.code == code, "\(what): \(error)")
        }
    }

    @Test func invalidUTF8AndOversizeNotesAreRefused() throws {
        let bad: [UInt8] = Array("text".utf8) + [0xff] + Array("\n\n\u{2014} a AAAAAAA=\n".utf8)
        #expect(throws: NoteError("note.not_utf8", "")) { try SignedNote(parsing: bad) }
        let big = [UInt8](repeating: 0x61, count: SignedNote.maxBytes + 1)
        #expect(throws: NoteError("note.too_large", "")) { try SignedNote(parsing: big) }
        // Sixteen signatures must be accepted (the specification's floor); more than the cap are refused.
        let line = "\u{2014} a AAAAAAA=\n"
        #expect(try SignedNote(parsing: Array(("t\n\n" + String(repeating: line, count: 16)).utf8)).signatures.count == 16)
        #expect(throws: NoteError("note.too_many_signatures", "")) {
            try SignedNote(parsing: Array(("t\n\n" + String(repeating: line, count: SignedNote.maxSignatures + 1)).utf8))
        }
    }

    @Test func theTextIsSeparatedByTheLastBlankLine() throws {
        let note = try SignedNote(parsing: Array("one\n\ntwo\n\n\u{2014} a AAAAAAA=\n".utf8))
        #expect(note.text == "one\n\ntwo\n")
    }

    @Test func verifierKeysAreCheckedAgainstTheirID() {
        #expect(throws: NoteError("note.bad_key", "")) { try NoteVerifierKey(parsing: "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
        #expect(throws: NoteError("note.bad_key", "")) { try NoteVerifierKey(parsing: "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
        #expect(throws: NoteError("note.bad_key", "")) { try NoteVerifierKey(parsing: "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
        #expect(throws: NoteError.self) { try NoteVerifierKey(parsing: "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
    }
}

/// Checkpoints (c2sp.org/tlog-checkpoint): the body, strictly.
@Suite(.timeLimit(.minutes(5))) struct CheckpointTests {
    static let root = Bytes32(Array(0..<32).map { UInt8($0) })!

    @Test func aCheckpointRoundTripsAndOpensWithItsKey() throws {
        let c = Checkpoint(origin: "meridian.example/audit", size: 20852163, root: Self.root)
        #expect(c.text == "meridian.example/audit\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
        #expect(try Checkpoint(parsing: c.text) == c)
        let signer = try NoteSigner(name: "meridian.example/audit", seed: [UInt8](repeating: 1, count: 32))
        let note = SignedNote(text: c.text, signatures: [try signer.sign(c.text)]).bytes
        let (opened, by) = try Checkpoint.open(note, origin: "meridian.example/audit", keys: [signer.verifierKey])
        #expect(opened == c && by == [signer.verifierKey])
        #expect(throws: NoteError("checkpoint.wrong_origin", "")) { try Checkpoint.open(note, origin: "other.example/log", keys: [signer.verifierKey]) }
        let withExtension = Checkpoint(origin: "o", size: 0, root: .zero, extensions: ["ext one"])
        #expect(try Checkpoint(parsing: withExtension.text) == withExtension)
    }

    @Test(arguments: [
        ("two lines", "o\n5\n", "checkpoint.too_short"),
        ("an empty origin", "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "checkpoint.empty_origin"),
        ("a leading zero", "o\n05\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "checkpoint.bad_size"),
        ("a sign", "o\n+5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "checkpoint.bad_size"),
        ("a size beyond 64 bits", "o\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "checkpoint.bad_size"),
        ("a 31-byte root", "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "checkpoint.bad_root"),
        ("a root in hex", "o\n5\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", "checkpoint.bad_root"),
        ("an empty extension line", "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\nx\n", "checkpoint.empty_line"),
        ("no final newline", "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "checkpoint.no_final_newline"),
    ])
    func malformedCheckpointsAreRefusedWithTheirReason(_ what: String, _ text: String, _ code: String) {
        let error = #expect(throws: NoteError.self, "\(what)") { try Checkpoint(parsing: text) }
        #expect(error?.code == code, "\(what): \(String(describing: error))")
    }
}
