import CIsal
import Foundation
import LinearAlgebra

/// Where a data file's bytes come from: a plain file, an entry of a zip archive, or a gzip file.
///
/// A path that runs *through* a zip archive names one of its entries:
/// `/data/ml-20m.zip/ml-20m/ratings.csv` is the entry `ml-20m/ratings.csv` of `/data/ml-20m.zip`
/// (what ``DatasetFiles/discover(in:ratings:)`` returns for an archive). A regular file whose name
/// ends in `.gz` is read through gzip. Compressed bytes are inflated as they are read (ISA-L),
/// never unpacked to disk; an entry's CRC-32 and a gzip member's CRC-32 and length are checked.
enum DataInput: Sendable {
    case file(path: String)
    case zipEntry(ZipArchive, ZipArchive.Entry)
    case gzip(path: String, size: Int)

    /// What `url` names.
    /// - Throws: ``MovieLensError/io(path:reason:)`` for a missing file or entry, a file that is not
    ///   regular, or an archive that cannot be read.
    static func open(_ url: URL) throws -> DataInput {
        let path = url.path
        var st = stat()
        if stat(path, &st) == 0 {
            try requireRegularFile(path)
            return path.hasSuffix(".gz") ? .gzip(path: path, size: Int(st.st_size)) : .file(path: path)
        }
        guard let (archivePath, entryPath) = ZipArchive.split(path) else {
            throw MovieLensError.io(path: path, reason: String(cString: strerror(ENOENT)))
        }
        let archive = try ZipArchive(path: archivePath)
        guard let entry = archive.entry(entryPath) else {
            throw MovieLensError.io(path: path, reason: "no entry \(entryPath) in \(archivePath)")
        }
        return .zipEntry(archive, entry)
    }

    /// The file's name in errors: the last part of a plain or gzip path, `archive.zip/folder/file` for an entry.
    var displayName: String {
        switch self {
        case .file(let p), .gzip(let p, _): (p as NSString).lastPathComponent
        case .zipEntry(let a, let e): (a.path as NSString).lastPathComponent + "/" + e.name
        }
    }

    /// Whether the bytes need inflating.
    var isCompressed: Bool { if case .file = self { false } else { true } }

    /// The input's path, for error messages (an entry as `archive.zip/folder/file.csv`).
    var path: String {
        switch self {
        case .file(let p), .gzip(let p, _): p
        case .zipEntry(let a, let e): a.path + "/" + e.name
        }
    }

    /// The uncompressed size when the container states it (a zip entry; a gzip file's last
    /// length field, which is the size modulo 2³² of its last member only: a hint).
    var sizeHint: Int? {
        switch self {
        case .file: nil
        case .zipEntry(_, let e): e.uncompressedSize
        case .gzip(let p, let size):
            (try? GzipTrailer.length(path: p, fileSize: size)).map { Int($0) }
        }
    }

    /// Every byte of the input, inflated (for the small files: movies, tags, links, genome tags).
    func readAll() throws -> [UInt8] {
        var bytes = [UInt8]()
        if let hint = sizeHint { bytes.reserveCapacity(min(hint, 1 << 30)) }
        let stream = try ChunkStream(self, chunkSize: 4 << 20)
        while let chunk = try stream.next() { bytes.append(contentsOf: chunk) }
        return bytes
    }
}

/// The last 4 bytes of a gzip file: its last member's uncompressed length modulo 2³².
enum GzipTrailer {
    static func length(path: String, fileSize: Int) throws -> UInt32 {
        guard fileSize >= 18 else { throw MovieLensError.io(path: path, reason: "not a gzip file (too short)") }
        let file = try InputFile(path: path, name: (path as NSString).lastPathComponent)
        var tail = [UInt8](repeating: 0, count: 4)
        _ = try tail.withUnsafeMutableBufferPointer { try file.read(into: $0.baseAddress!, offset: fileSize - 4, count: 4) }
        return UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24
    }
}

/// The central directory of a zip archive (PKZIP APPNOTE 6.3: stored and deflated entries, zip64
/// sizes and offsets), read strictly: every offset and size is checked against the file.
final class ZipArchive: @unchecked Sendable {
    /// One file of the archive.
    struct Entry: Sendable {
        /// Its path inside the archive, `/`-separated (`ml-20m/ratings.csv`).
        var name: String
        /// 0 (stored) or 8 (deflated).
        var method: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        /// Offset of its local header.
        var headerOffset: Int
        var isDirectory: Bool { name.hasSuffix("/") }
    }

    let path: String
    let file: InputFile
    /// Every entry in directory order.
    let entries: [Entry]

    /// Reads the central directory of the archive at `path`.
    /// - Throws: ``MovieLensError/io(path:reason:)`` naming what is wrong (not a zip, a truncated or
    ///   inconsistent directory, encryption, a multi-disk archive).
    init(path: String) throws {
        self.path = path
        try requireRegularFile(path)
        file = try InputFile(path: path, name: (path as NSString).lastPathComponent)
        entries = try Self.readDirectory(file, path: path)
    }

    /// The entry called `name`, if any.
    func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Splits a path running through a zip archive into the archive's path and the entry's name:
    /// the longest leading part that is a regular file ending in `.zip` (case-insensitive).
    static func split(_ path: String) -> (archive: String, entry: String)? {
        var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var rest = [String]()
        while components.count > 1 {
            rest.insert(components.removeLast(), at: 0)
            let prefix = components.joined(separator: "/")
            var st = stat()
            if prefix.lowercased().hasSuffix(".zip"), stat(prefix, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                return (prefix, rest.joined(separator: "/"))
            }
        }
        return nil
    }

    private static func fail(_ path: String, _ reason: String) -> MovieLensError {
        .io(path: path, reason: "not a readable zip archive: \(reason)")
    }

    private static func readDirectory(_ file: InputFile, path: String) throws -> [Entry] {
        // End of central directory: 22 bytes plus a comment of up to 65,535, at the end of the file.
        let tailLength = min(file.size, 22 + 65_535)
        guard tailLength >= 22 else { throw fail(path, "too short") }
        let tail = try file.bytes(at: file.size - tailLength, count: tailLength)
        guard let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: { tail.u32($0) == 0x0605_4B50 }) else {
            throw fail(path, "no end-of-central-directory record")
        }
        let eocdOffset = file.size - tailLength + eocd
        var count = Int(tail.u16(eocd + 10)), size = Int(tail.u32(eocd + 12)), offset = Int(tail.u32(eocd + 16))
        guard tail.u16(eocd + 4) == 0 || tail.u16(eocd + 4) == 0xFFFF else { throw fail(path, "multi-disk archives are not supported") }
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            // Zip64: the locator sits just before the end record and points at the zip64 end record.
            guard eocdOffset >= 20 else { throw fail(path, "zip64 locator missing") }
            let locator = try file.bytes(at: eocdOffset - 20, count: 20)
            guard locator.u32(0) == 0x0706_4B50 else { throw fail(path, "zip64 locator missing") }
            let recordOffset = try checkedInt(locator.u64(8), path)
            guard recordOffset <= file.size - 56 else { throw fail(path, "zip64 end record outside the file") }
            let record = try file.bytes(at: recordOffset, count: 56)
            guard record.u32(0) == 0x0606_4B50 else { throw fail(path, "bad zip64 end record") }
            count = try checkedInt(record.u64(32), path)
            size = try checkedInt(record.u64(40), path)
            offset = try checkedInt(record.u64(48), path)
        }
        guard offset <= file.size, size <= file.size - offset, count <= size / 46 + 1 else {
            throw fail(path, "central directory outside the file (truncated?)")
        }
        let directory = try file.bytes(at: offset, count: size)
        var entries = [Entry]()
        entries.reserveCapacity(count)
        var p = 0
        for _ in 0..<count {
            guard p + 46 <= directory.count, directory.u32(p) == 0x0201_4B50 else { throw fail(path, "bad central directory entry") }
            let flags = directory.u16(p + 8), method = directory.u16(p + 10)
            let nameLength = Int(directory.u16(p + 28)), extraLength = Int(directory.u16(p + 30)), commentLength = Int(directory.u16(p + 32))
            guard p + 46 + nameLength + extraLength + commentLength <= directory.count else { throw fail(path, "central directory entry runs past its end") }
            let name = String(decoding: directory[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            var compressed = Int(directory.u32(p + 20)), uncompressed = Int(directory.u32(p + 24)), header = Int(directory.u32(p + 42))
            // Zip64 extended information (0x0001): the 64-bit values of the fields saturated above, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = directory.u16(e), length = Int(directory.u16(e + 2))
                guard e + 4 + length <= extraEnd else { throw fail(path, "bad extra field in \(name)") }
                if id == 0x0001 {
                    var q = e + 4
                    for field in [0, 1, 2] {
                        let saturated = field == 0 ? uncompressed == 0xFFFF_FFFF : field == 1 ? compressed == 0xFFFF_FFFF : header == 0xFFFF_FFFF
                        guard saturated else { continue }
                        guard q + 8 <= e + 4 + length else { throw fail(path, "short zip64 field in \(name)") }
                        let value = try checkedInt(directory.u64(q), path)
                        if field == 0 { uncompressed = value } else if field == 1 { compressed = value } else { header = value }
                        q += 8
                    }
                }
                e += 4 + length
            }
            guard flags & 1 == 0 else { throw MovieLensError.io(path: path + "/" + name, reason: "encrypted zip entries are not supported") }
            guard header <= file.size, compressed <= file.size - header else { throw fail(path, "entry \(name) lies outside the file (truncated?)") }
            entries.append(Entry(name: name, method: method, crc32: directory.u32(p + 16), compressedSize: compressed,
                                 uncompressedSize: uncompressed, headerOffset: header))
            p = extraEnd + commentLength
        }
        return entries
    }

    private static func checkedInt(_ v: UInt64, _ path: String) throws -> Int {
        guard v <= UInt64(Int.max / 2) else { throw fail(path, "size or offset out of range") }
        return Int(v)
    }

    /// Where `entry`'s data starts (after its local header).
    func dataOffset(of entry: Entry) throws -> Int {
        let name = path + "/" + entry.name
        guard entry.headerOffset <= file.size - 30 else { throw MovieLensError.io(path: name, reason: "local header outside the archive (truncated?)") }
        let header = try file.bytes(at: entry.headerOffset, count: 30)
        guard header.u32(0) == 0x0403_4B50 else { throw MovieLensError.io(path: name, reason: "bad local header (corrupt archive)") }
        let start = entry.headerOffset + 30 + Int(header.u16(26)) + Int(header.u16(28))
        guard start <= file.size, entry.compressedSize <= file.size - start else {
            throw MovieLensError.io(path: name, reason: "entry data runs past the end of the archive (truncated?)")
        }
        return start
    }
}

extension InputFile {
    /// `count` bytes at `offset`, all of them.
    /// - Throws: ``MovieLensError/io(path:reason:)`` when the file is shorter.
    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        var b = [UInt8](repeating: 0, count: count)
        let n = try b.withUnsafeMutableBufferPointer { p -> Int in
            guard let base = p.baseAddress else { return 0 }
            return try read(into: base, offset: offset, count: count)
        }
        guard n == count else { throw MovieLensError.io(path: path, reason: "unexpected end of file (truncated?)") }
        return b
    }
}

extension Array where Element == UInt8 {
    /// Little-endian integers at byte `i`.
    func u16(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
    func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) | UInt64(u32(i + 4)) << 32 }
}

/// The inflated bytes of a ``DataInput`` in chunks, read ahead by a thread of their own: while the
/// caller parses one chunk, the next is being inflated (so a load costs about the larger of the two).
/// Memory: three chunks, a 1 MiB input buffer and ISA-L's ~40 KiB state.
final class ChunkStream {
    private let pipe: ChunkPipe

    /// Starts reading `input` on a thread of its own.
    init(_ input: DataInput, chunkSize: Int = 8 << 20) throws {
        pipe = ChunkPipe(chunkSize: chunkSize)
        let pipe = pipe
        let thread = Thread {
            do { try pipe.produce(input) } catch { pipe.fail(error) }
            pipe.finish()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Stops the reading thread, waits for it, and frees the buffers.
    deinit { pipe.cancelAndWait() }

    /// The next chunk of inflated bytes (valid until the next call), or nil after the last.
    /// - Throws: the first error of the reading thread (corrupt data, a checksum mismatch, I/O).
    func next() throws -> UnsafeBufferPointer<UInt8>? { try pipe.next() }
}

/// The buffers a ``ChunkStream``'s reading thread fills and its reader empties, in order.
private final class ChunkPipe: @unchecked Sendable {
    let chunkSize: Int
    private let buffers: [UnsafeMutablePointer<UInt8>]
    private let lock = NSCondition()
    /// Filled buffers in order: (buffer index, byte count).
    private var filled: [(Int, Int)] = []
    private var free = [0, 1, 2]
    private var held: Int?
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?

    init(chunkSize: Int) {
        self.chunkSize = chunkSize
        buffers = (0..<3).map { _ in UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize) }
    }

    func fail(_ error: any Error) { lock.lock(); failure = error; lock.unlock() }

    func finish() { lock.lock(); finished = true; lock.broadcast(); lock.unlock() }

    func cancelAndWait() {
        lock.lock()
        cancelled = true
        lock.broadcast()
        while !finished { lock.wait() }
        lock.unlock()
        for b in buffers { b.deallocate() }
    }

    /// The next filled buffer; after the last, the reading thread's error if it had one.
    func next() throws -> UnsafeBufferPointer<UInt8>? {
        lock.lock()
        if let h = held { free.append(h); held = nil; lock.broadcast() }
        while filled.isEmpty && !finished { lock.wait() }
        guard !filled.isEmpty else {
            let failure = failure
            lock.unlock()
            if let failure { throw failure }
            return nil
        }
        let (index, count) = filled.removeFirst()
        held = index
        lock.unlock()
        return UnsafeBufferPointer(start: buffers[index], count: count)
    }

    /// A free buffer, or nil once the reader has gone away.
    private func take() -> UnsafeMutablePointer<UInt8>? {
        lock.lock()
        defer { lock.unlock() }
        while free.isEmpty && !cancelled { lock.wait() }
        return cancelled ? nil : buffers[free.removeLast()]
    }

    private func give(_ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) {
        lock.lock()
        if let index = buffers.firstIndex(of: buffer) {
            if count > 0 { filled.append((index, count)) } else { free.append(index) }
        }
        lock.broadcast()
        lock.unlock()
    }

    /// Fills buffers in order until the input ends.
    func produce(_ input: DataInput) throws {
        switch input {
        case .file(let path):
            let file = try InputFile(path: path, name: (path as NSString).lastPathComponent)
            try copy(file: file, start: 0, length: file.size, name: path) { _, _ in }
        case .zipEntry(let archive, let entry):
            let start = try archive.dataOffset(of: entry)
            let name = archive.path + "/" + entry.name
            var total = 0, crc: UInt32 = 0
            let check: (UnsafeMutablePointer<UInt8>, Int) throws -> Void = { _, count in
                total += count
                guard total <= entry.uncompressedSize else {
                    throw MovieLensError.io(path: name, reason: "corrupt zip entry: more bytes than its directory says (\(entry.uncompressedSize))")
                }
            }
            switch entry.method {
            case 0:
                try copy(file: archive.file, start: start, length: entry.compressedSize, name: name) { bytes, count in
                    try check(bytes, count)
                    crc = crc32_gzip_refl(crc, bytes, UInt64(count))
                }
            case 8: crc = try inflate(file: archive.file, start: start, length: entry.compressedSize, name: name, gzip: false, check: check)
            default: throw MovieLensError.io(path: name, reason: "unsupported zip compression method \(entry.method) (stored and deflated only)")
            }
            if cancelled { return }
            guard total == entry.uncompressedSize else {
                throw MovieLensError.io(path: name, reason: "corrupt zip entry: \(total) bytes, its directory says \(entry.uncompressedSize)")
            }
            guard crc == entry.crc32 else { throw MovieLensError.io(path: name, reason: "corrupt zip entry: CRC-32 mismatch") }
        case .gzip(let path, let size):
            let file = try InputFile(path: path, name: (path as NSString).lastPathComponent)
            _ = try inflate(file: file, start: 0, length: size, name: path, gzip: true) { _, _ in }
        }
    }

    /// Hands `length` bytes from `start` of `file` on as they are.
    private func copy(file: InputFile, start: Int, length: Int, name: String,
                      check: (UnsafeMutablePointer<UInt8>, Int) throws -> Void) throws {
        var offset = 0
        while offset < length {
            guard let b = take() else { return }
            let n = try file.read(into: b, offset: start + offset, count: min(chunkSize, length - offset))
            guard n > 0 else {
                give(b, 0)
                throw MovieLensError.io(path: name, reason: "unexpected end of file (truncated?)")
            }
            try check(b, n)
            give(b, n)
            offset += n
        }
    }

    /// Inflates `length` compressed bytes from `start` of `file` with ISA-L: a bare DEFLATE stream
    /// (a zip entry; returns the CRC-32 of the output, computed while inflating) or gzip members
    /// one after another (`cat a.gz b.gz`), each checked by ISA-L against its CRC-32 and length.
    /// `check` sees every inflated run.
    @discardableResult
    private func inflate(file: InputFile, start: Int, length: Int, name: String, gzip: Bool,
                         check: (UnsafeMutablePointer<UInt8>, Int) throws -> Void) throws -> UInt32 {
        func corrupt(_ what: String) -> MovieLensError {
            .io(path: name, reason: (gzip ? "corrupt gzip file: " : "corrupt zip entry: ") + what)
        }
        // The state holds ISA-L's window and decoding tables (~40 KiB): on the heap, not the stack.
        let state = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
        defer { state.deallocate() }
        let wrapper = UInt32(gzip ? ISAL_GZIP : ISAL_GZIP_NO_HDR)
        isal_inflate_init(state)
        state.pointee.crc_flag = wrapper
        let inputSize = 1 << 20
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: inputSize)
        defer { input.deallocate() }
        var consumed = 0
        guard var b = take() else { return 0 }
        var used = 0
        while true {
            if state.pointee.avail_in == 0 && consumed < length {
                let n = try file.read(into: input, offset: start + consumed, count: min(inputSize, length - consumed))
                guard n > 0 else { give(b, used); throw corrupt("the compressed data ends early (truncated?)") }
                consumed += n
                state.pointee.next_in = input
                state.pointee.avail_in = UInt32(n)
            }
            state.pointee.next_out = b + used
            state.pointee.avail_out = UInt32(chunkSize - used)
            let status = isal_inflate(state)
            let produced = chunkSize - used - Int(state.pointee.avail_out)
            if produced > 0 { try check(b + used, produced) }
            used += produced
            guard status == ISAL_DECOMP_OK else { give(b, used); throw corrupt(Self.describe(status)) }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                guard gzip && (state.pointee.avail_in > 0 || consumed < length) else { break }
                // The next gzip member: a fresh state over the rest of the input.
                let (next, left) = (state.pointee.next_in, state.pointee.avail_in)
                isal_inflate_reset(state)
                state.pointee.crc_flag = wrapper
                state.pointee.next_in = next
                state.pointee.avail_in = left
            } else if produced == 0 && state.pointee.avail_in == 0 && consumed == length {
                give(b, used)
                throw corrupt("the compressed data ends early (truncated?)")
            }
            if used == chunkSize {
                give(b, used)
                guard let next = take() else { return 0 }
                b = next
                used = 0
            }
        }
        give(b, used)
        return state.pointee.crc
    }

    /// What an ISA-L inflate status means.
    static func describe(_ status: Int32) -> String {
        switch status {
        case ISAL_INVALID_BLOCK: "invalid DEFLATE block"
        case ISAL_INVALID_SYMBOL: "invalid DEFLATE code"
        case ISAL_INVALID_LOOKBACK: "a back-reference reaches before the start"
        case ISAL_INVALID_WRAPPER: "not a gzip member (bad header)"
        case ISAL_UNSUPPORTED_METHOD: "unsupported compression method in the gzip header"
        case ISAL_INCORRECT_CHECKSUM: "CRC-32 or length mismatch"
        case ISAL_NEED_DICT: "the stream needs a preset dictionary"
        default: "ISA-L inflate error \(status)"
        }
    }
}
