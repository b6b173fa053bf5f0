import FuzzSupport
import LinearAlgebra
import Recommender

/// Model files: a load either fails with an error or gives a model that answers a recommendation
/// and a similar-items query without trapping.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let url = Scratch.file("fuzz.model", data, size, transform: BinaryArchive.resealed)
    guard let model = try? TrainedModel.load(from: url) else { return 0 }
    let kernels = SwiftKernels(threads: 1)
    if let user = model.users.ids.first { _ = try? model.recommend(user: user, k: 3, kernels: kernels) }
    if let movie = model.items.ids.first { _ = try? model.similarItems(movie, k: 3, kernels: kernels) }
    return 0
}

@_cdecl("FuzzModel_main")
public func fuzzModelMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzModel)
}
