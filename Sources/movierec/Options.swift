import ArgumentParser
import Foundation
import Recommender
import LinearAlgebra

/// `--threads`: how many threads a command may use.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads (default: all cores).") var threads = Parallel.cores

    func validate() throws { guard threads > 0 else { throw ValidationError("--threads must be positive") } }
}

/// `--backend` and `--threads`, turned into kernels in one place, for every command that computes.
struct KernelOptions: ParsableArguments {
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @OptionGroup var threadOptions: ThreadOptions

    var threads: Int { threadOptions.threads }

    func validate() throws { guard backend != .both else { throw ValidationError("--backend must be openblas or swift") } }

    /// The chosen backend's kernels, running `--threads` threads.
    func kernels() throws -> any Kernels { try backend.backends()[0].makeKernels(threads: threads) }
}

/// `--backend openblas|swift|both`.
enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case openblas, swift, both

    /// The backends selected, restricted to those compiled in.
    func backends() throws -> [Backend] {
        switch self {
        case .both: return Backend.available
        case .openblas, .swift:
            let b = Backend(rawValue: rawValue) ?? .swift
            guard b.isAvailable else {
                throw ValidationError("backend '\(rawValue)' is not available: this build has no OpenBLAS trait")
            }
            return [b]
        }
    }
}

/// Writes `text` to standard error.
func printError(_ text: String) {
    var stderr = StandardError()
    print(text, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleOutput.stderr(string)
    }
}

/// A usage error unless `name` is a registered model whose library checks accept `options`.
func validateModel(_ name: String, options: TrainedModel.Options, registry: ModelRegistry = .standard) throws {
    guard let type = try? registry.model(named: name) else {
        throw ValidationError("unknown model '\(name)' (choose from \(registry.names.joined(separator: ", ")))")
    }
    do { try type.validate(options) } catch { throw ValidationError("\(error)") }
}

/// A usage error when `output` is one of the files `inputs` name (a folder stands for the files
/// directly in it): compared by device and inode after resolving symlinks, so another name for
/// the same file is caught too. A missing output is always fine.
func refuseOverwriting(inputs: [String], output: String) throws {
    try refuseOverwriting(inputs: inputs, outputs: [output])
}

/// ``refuseOverwriting(inputs:output:)`` for each of `outputs`.
func refuseOverwriting(inputs: [String], outputs: [String]) throws {
    func identity(_ path: String) -> (UInt64, UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }
    let read = inputs.flatMap { input -> [String] in
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else { return [] }
        guard isFolder.boolValue else { return [input] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []).map { (input as NSString).appendingPathComponent($0) }
    }
    for output in outputs {
        guard let target = identity(output) else { continue }
        if let file = read.first(where: { identity($0).map { $0 == target } ?? false }) {
            throw ValidationError("the output \(output) is the input \(file): refusing to write over a file this command reads")
        }
    }
}
