#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LinearAlgebra
import Synchronization

/// Writes a file so that it appears whole or not at all: bytes go to a hidden temporary file in the
/// same folder, which ``commit()`` fsyncs and renames over the destination. If the writer is dropped
/// without committing (an error, an interrupted run), the temporary file is removed and any earlier
/// file at the destination is untouched.
public final class AtomicFileWriter {
    /// Final path.
    public let destination: URL
    /// Temporary path in the same folder.
    public let temporary: URL
    private var fd: Int32
    private var committed = false
    private var buffer = [UInt8]()
    private let bufferLimit = 1 << 20
    /// Bytes written since the last background writeback was started.
    private var unsynced = 0
    /// Background `fdatasync`s started while writing, so the disk works while the caller formats
    /// the next block; without them every byte would wait in the page cache for the final fsync.
    private let writeback = DispatchGroup()
    private static let writebackQueue = DispatchQueue(label: "movierec.atomic-writeback")
    private static let writebackChunk = 32 << 20

    /// Opens a temporary file beside `destination` (creating the folder if needed).
    public init(destination: URL) throws {
        self.destination = destination
        let dir = destination.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: destination.path, isDirectory: &isFolder), isFolder.boolValue {
            throw MovieLensError.io(path: destination.path, reason: "is a folder: give a file name to write")
        }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw MovieLensError.io(path: dir.path, reason: "cannot create the folder (a file of that name exists, or no permission)")
        }
        Self.removeStaleTemporaries(of: destination)
        temporary = dir.appendingPathComponent("\(Self.temporaryPrefix(of: destination))\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno))) }
        Self.live.withLock { _ = $0.insert(temporary.path) }
        buffer.reserveCapacity(bufferLimit)
    }

    deinit {
        writeback.wait()
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporary.path) }
        Self.live.withLock { _ = $0.remove(temporary.path) }
    }

    // MARK: - Temporaries left behind

    /// The temporary files of writers not yet committed or dropped in this process.
    private static let live = Mutex<Set<String>>([])

    /// `.NAME.tmp-`: what every temporary of `destination` starts with (then the writer's PID and a random number).
    static func temporaryPrefix(of destination: URL) -> String { ".\(destination.lastPathComponent).tmp-" }

    /// Removes the temporaries of `destination` whose writing process is gone (killed before it
    /// could clean up); those of running processes are left alone.
    static func removeStaleTemporaries(of destination: URL) {
        let dir = destination.deletingLastPathComponent(), prefix = temporaryPrefix(of: destination)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir.appendingPathComponent(name).path) }
        }
    }

    /// On SIGINT, SIGTERM or SIGHUP, removes every temporary file this process is writing, then
    /// dies of the signal as it would have (so the exit status still tells what happened). Call
    /// once at start-up; the handlers run on a dispatch queue, not in signal context.
    public static func removeTemporariesOnSignals() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
            source.setEventHandler {
                terminating.store(true, ordering: .sequentiallyConsistent)
                for path in live.withLock({ $0 }) { unlink(path) }
                // Dispatch's threads block signals: unblock it here, so that the default action
                // ends the process at once, as the signal would have without this handler.
                signal(sig, SIG_DFL)
                var set = sigset_t()
                sigemptyset(&set)
                sigaddset(&set, sig)
                pthread_sigmask(SIG_UNBLOCK, &set, nil)
                raise(sig)
                _exit(128 + sig)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    private static let signalQueue = DispatchQueue(label: "movierec.signals")
    /// Set once a signal is being handled: writers then wait to be ended instead of reporting the
    /// temporary file the handler removed as an error.
    private static let terminating = Atomic<Bool>(false)

    /// Blocks forever when the process is being ended by a signal (see ``removeTemporariesOnSignals()``).
    private static func waitIfTerminating() {
        while terminating.load(ordering: .sequentiallyConsistent) { pause() }
    }
    /// Keeps the handlers alive; written only by ``removeTemporariesOnSignals()`` at start-up.
    nonisolated(unsafe) private static var signalSources = [any DispatchSourceSignal]()

    /// Bytes appended so far.
    public private(set) var bytesWritten = 0

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        bytesWritten += bytes.count
        if buffer.count + bytes.count > bufferLimit { try flush() }
        if bytes.count >= bufferLimit { try writeAll(bytes) } else { buffer += bytes }
    }

    /// Appends UTF-8 text.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try writeAll(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno)))
                }
                offset += n
            }
        }
        unsynced += bytes.count
        if unsynced >= Self.writebackChunk, writeback.wait(timeout: .now()) == .success {
            // Start writing back what the page cache holds so far; never more than one at a time.
            unsynced = 0
            let fd = self.fd
            Self.writebackQueue.async(group: writeback) { _ = fdatasync(fd) }
        }
    }

    /// Flushes, syncs and renames the temporary file to the destination.
    public func commit() throws {
        Self.waitIfTerminating()
        try flush()
        writeback.wait()
        guard fsync(fd) == 0 else { throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno))) }
        close(fd)
        fd = -1
        guard rename(temporary.path, destination.path) == 0 else {
            Self.waitIfTerminating()
            throw MovieLensError.io(path: destination.path, reason: String(cString: strerror(errno)))
        }
        committed = true
    }

    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let w = try AtomicFileWriter(destination: url)
        try w.write(bytes)
        try w.commit()
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

extension AtomicFileWriter {
    /// Writes `header` and then the text of `count` items to `url` atomically, formatting blocks of
    /// `blockSize` items in parallel (`format(range, &buffer)`) and writing them in order, so memory
    /// stays at a few blocks whatever the file size. Returns the size of the file written.
    @discardableResult
    public static func writeBlocks(to url: URL, header: String, count: Int, blockSize: Int, threads: Int,
                                   format: @Sendable (Range<Int>, inout TextBuffer) -> Void) throws -> Int {
        let writer = try AtomicFileWriter(destination: url)
        try writer.write(header)
        let blocks = (count + blockSize - 1) / blockSize
        let round = max(1, threads) * 4
        // One text buffer per slot of a round, reused (cleared, capacity kept) across rounds.
        let slots = UnsafeMutablePointer<TextBuffer>.allocate(capacity: round)
        slots.initialize(repeating: TextBuffer(), count: round)
        defer { slots.deinitialize(count: round); slots.deallocate() }
        let out = UnsafeSendable(slots)
        var first = 0
        while first < blocks {
            let ids = Array(first..<min(blocks, first + round))
            Parallel.forEach(count: ids.count, threads: threads) { k in
                var text = out.pointer[k]
                out.pointer[k] = TextBuffer()   // keep the storage uniquely referenced while it grows
                text.bytes.removeAll(keepingCapacity: true)
                format((ids[k] * blockSize)..<min(count, (ids[k] + 1) * blockSize), &text)
                out.pointer[k] = text
            }
            for k in 0..<ids.count { try writer.write(slots[k].bytes) }
            first += round
        }
        try writer.commit()
        return writer.bytesWritten
    }
}
