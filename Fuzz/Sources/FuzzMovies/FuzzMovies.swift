import FuzzSupport
import MovieLens

/// Movie lists in every dialect (quoted titles, `|` genres, Latin-1 `u.item`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMovies(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let formats: [DatasetFiles.Format] = [.groupLens, .kaggle, .dat, .ml100k]
    guard let (picked, url) = dialectFile(data, size, names: ["movies.csv", "movie.csv", "movies.dat", "u.item"]) else { return 0 }
    for policy in [ErrorPolicy.strict, .lenient] { _ = try? Movie.load(url, format: formats[picked], policy: policy) }
    return 0
}

@_cdecl("FuzzMovies_main")
public func fuzzMoviesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzMovies)
}
