import CFuzzDriver
import Foundation

/// A folder of this process's own for the files a fuzz input becomes (the readers take files).
public enum Scratch {
    public static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Writes `transform` of the input to `name` in ``folder`` and returns its URL — e.g.
    /// `BinaryArchive.resealed`, which gives every input a valid checksum so that mutations reach
    /// the section readers behind it (the checksum check itself is covered by the unit tests).
    public static func file(_ name: String, _ data: UnsafePointer<UInt8>, _ size: Int, transform: ([UInt8]) -> [UInt8]) -> URL {
        transform(Array(UnsafeBufferPointer(start: data, count: size))).withUnsafeBufferPointer { b in
            b.baseAddress.map { file(name, $0, b.count) } ?? file(name, data, 0)
        }
    }

    /// Writes the input to `name` in ``folder`` and returns its URL.
    public static func file(_ name: String, _ data: UnsafePointer<UInt8>, _ size: Int) -> URL {
        let url = folder.appendingPathComponent(name)
        // Plain open/write/close: FileManager's atomic write costs more than most inputs' parsing.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 {
            var done = 0
            while done < size {
                let n = write(fd, data + done, size - done)
                if n <= 0 { break }
                done += n
            }
            close(fd)
        }
        return url
    }
}

/// An input whose first byte picks one of `names` (the dialect) and whose rest is that file's bytes:
/// the index picked and the file written, or nil for an empty input.
public func dialectFile(_ data: UnsafePointer<UInt8>, _ size: Int, names: [String]) -> (index: Int, url: URL)? {
    guard size > 0, !names.isEmpty else { return nil }
    let index = Int(data[0]) % names.count
    return (index, Scratch.file(names[index], data + 1, size - 1))
}

/// Runs libFuzzer with the command line and `test` as the input callback.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                      _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, test)
}
