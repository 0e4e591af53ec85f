// The C ABI of libclipcore.so. Declarations live in include/clipcore.h;
// every function here is a thin @_cdecl shim over the Swift API.

import Tensor

/// The library version, "MAJOR.MINOR.PATCH"; static storage, never freed.
private let versionString: UnsafeMutablePointer<CChar> = {
    let s = "0.1.0"
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.utf8.count + 1)
    s.withCString { p.update(from: $0, count: s.utf8.count + 1) }
    return p
}()

@_cdecl("clip_version")
public func clip_version() -> UnsafePointer<CChar> {
    UnsafePointer(versionString)
}

/// The ABI version; it grows when a declaration in clipcore.h changes incompatibly.
@_cdecl("clip_abi_version")
public func clip_abi_version() -> Int32 {
    1
}

/// The number of threads clipcore's kernels and OpenBLAS use.
@_cdecl("clip_num_threads")
public func clip_num_threads() -> Int32 {
    Int32(Threads.count)
}

/// Sets the thread count (values below 1 mean 1). Returns the count now in force.
@_cdecl("clip_set_num_threads")
public func clip_set_num_threads(_ n: Int32) -> Int32 {
    Threads.count = Int(n)
    return Int32(Threads.count)
}
