import ArgumentParser
import LinearAlgebra

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
