/// Errors raised by the linear-algebra kernels. Every case carries the shapes or indices involved.
public enum LinearAlgebraError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Operand shapes do not fit the operation, e.g. `gemm: op(A) is 3×4 but op(B) is 5×2`.
    case dimensionMismatch(operation: String, detail: String)
    /// A matrix that must be symmetric positive definite is not: the leading minor of order
    /// `minor` (1-based) is not positive. `system` is the index within a batch, if any.
    case notPositiveDefinite(order: Int, minor: Int, system: Int?)
    /// An input holds NaN or infinity where that would give silent garbage.
    case nonFinite(operation: String)
    /// An argument is out of its valid range (e.g. a negative rank).
    case invalidArgument(operation: String, detail: String)
    /// An iterative method did not converge.
    case noConvergence(operation: String, detail: String)
    /// A LAPACK routine reported a failure code.
    case lapack(routine: String, info: Int)
    /// The requested backend was not compiled into this build.
    case backendUnavailable(String)

    public var description: String {
        switch self {
        case let .dimensionMismatch(operation, detail):
            return "\(operation): dimension mismatch: \(detail)"
        case let .notPositiveDefinite(order, minor, system):
            let which = system.map { "system \($0): " } ?? ""
            return "\(which)\(order)×\(order) matrix is not positive definite (leading minor \(minor) is not positive)"
        case let .nonFinite(operation):
            return "\(operation): input contains NaN or infinity"
        case let .invalidArgument(operation, detail):
            return "\(operation): \(detail)"
        case let .noConvergence(operation, detail):
            return "\(operation) did not converge: \(detail)"
        case let .lapack(routine, info):
            return "LAPACK \(routine) failed with info = \(info)"
        case let .backendUnavailable(name):
            return "backend '\(name)' is not available in this build (built without the OpenBLAS trait?)"
        }
    }
}
