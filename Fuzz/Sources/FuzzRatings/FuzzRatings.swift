import FuzzSupport
import MovieLens

/// Ratings in every dialect: the first byte picks GroupLens CSV, Kaggle CSV, `::` .dat or ML-100K
/// tab-separated; strict and lenient parsing must both end in ratings or a typed error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRatings(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let formats: [DatasetFiles.Format] = [.groupLens, .kaggle, .dat, .ml100k]
    guard let (picked, url) = dialectFile(data, size, names: ["ratings.csv", "rating.csv", "ratings.dat", "u.data"]) else { return 0 }
    for policy in [ErrorPolicy.strict, .lenient] {
        if let (ratings, _) = try? Ratings.load(url, format: formats[picked], policy: policy, threads: 1) {
            precondition(ratings.userIDs.count == ratings.values.count, "ratings columns differ in length")
        }
    }
    return 0
}

@_cdecl("FuzzRatings_main")
public func fuzzRatingsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzRatings)
}
