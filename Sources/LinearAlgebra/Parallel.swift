import Foundation
import Dispatch
import Synchronization

/// A small work-sharing parallel loop over the machine's cores, safe under Swift 6 strict concurrency.
///
/// Work items are handed out dynamically from an atomic counter, so uneven items balance across
/// threads. With `threads == 1` (or one item) the loop runs inline on the caller's thread.
///
/// ```swift
/// let out = UnsafeSendable(buffer.baseAddress!)
/// Parallel.forEach(count: rows, threads: 2) { i in out.pointer[i] = f(i) }
/// ```
public enum Parallel {
    /// The number of cores this process may use: every thread count's default.
    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body(i)` for every `i` in `0..<count`, on up to `threads` threads.
    public static func forEach(count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let width = min(max(1, threads), count)
        if width == 1 {
            for i in 0..<count { body(i) }
            return
        }
        let work = WorkCounter()
        DispatchQueue.concurrentPerform(iterations: width) { _ in
            while true {
                let i = work.take()
                if i >= count { break }
                body(i)
            }
        }
    }

    /// ``forEach(count:threads:_:)`` for a body that can throw: every item still runs; the first
    /// error thrown (by item order of discovery) is rethrown once all have finished.
    public static func tryForEach(count: Int, threads: Int, _ body: @Sendable (Int) throws -> Void) throws {
        let failure = Mutex<(any Error)?>(nil)
        forEach(count: count, threads: threads) { i in
            do { try body(i) } catch { failure.withLock { if $0 == nil { $0 = error } } }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Splits `0..<count` into contiguous chunks of at least `minChunk` items (about four per thread)
    /// and calls `body` with each chunk, in parallel.
    public static func forChunks(count: Int, threads: Int, minChunk: Int = 1,
                                 _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let width = max(1, threads)
        let chunkCount = max(1, min(width * 4, count / max(1, minChunk)))
        let chunkSize = (count + chunkCount - 1) / chunkCount
        let chunks = (count + chunkSize - 1) / chunkSize
        forEach(count: chunks, threads: width) { c in
            body(c * chunkSize ..< min(count, (c + 1) * chunkSize))
        }
    }

    /// Splits `0..<count` into exactly `min(parts, count)` near-equal contiguous ranges.
    public static func split(_ count: Int, parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, count))
        return (0..<parts).map { p in (count * p / parts) ..< (count * (p + 1) / parts) }
    }
}

/// The shared index of the next work item.
private final class WorkCounter: Sendable {
    let next = Atomic<Int>(0)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Wraps a raw pointer so that a `@Sendable` parallel body may capture it.
///
/// The caller guarantees that concurrent iterations touch disjoint elements and that the memory
/// outlives the loop.
public struct UnsafeSendable<Pointee>: @unchecked Sendable {
    /// The wrapped pointer.
    public let pointer: UnsafeMutablePointer<Pointee>
    /// Wraps `pointer`.
    public init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}

/// Carries a value that is not `Sendable` (buffer pointers, non-Sendable structs) into a parallel
/// loop whose iterations only read it.
public struct UnsafeSendableBox<Value>: @unchecked Sendable {
    /// The wrapped value.
    public let value: Value
    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }
}

/// Collects the error of the lowest-indexed failing work item of a parallel loop, so that the
/// error a caller sees does not depend on thread timing.
public final class FirstError: Sendable {
    private let state = Mutex<(index: Int, error: (any Error)?)>((Int.max, nil))

    public init() {}

    /// Records `error` for work item `index` (kept if it is the lowest so far).
    public func record(_ index: Int, _ error: any Error) {
        state.withLock { s in
            if index < s.index { s = (index, error) }
        }
    }

    /// The recorded error, if any.
    public var first: (any Error)? { state.withLock { $0.error } }
}

extension Array {
    /// An array of `count` elements, element `i` computed by `element(i)`, in parallel chunks.
    /// - Complexity: O(count) calls of `element`, spread over `threads` threads.
    @inlinable
    public init(count: Int, threads: Int, parallel element: @Sendable (Int) -> Element) {
        self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            let out = UnsafeSendable(base)
            Parallel.forChunks(count: count, threads: threads, minChunk: 1 << 16) { range in
                for i in range { (out.pointer + i).initialize(to: element(i)) }
            }
            initialized = count
        }
    }
}
