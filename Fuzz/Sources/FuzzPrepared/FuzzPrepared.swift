import FuzzSupport
import Recommender

/// `prepared.bin`: a load either fails with an error or gives data the models can take.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPrepared(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let url = Scratch.file("prepared.bin", data, size, transform: BinaryArchive.resealed)
    guard let prepared = try? PreparedData.load(from: url) else { return 0 }
    _ = try? ContentEmbeddings(prepared: prepared)
    return 0
}

@_cdecl("FuzzPrepared_main")
public func fuzzPreparedMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzPrepared)
}
