// Files served from under one folder only, and only the ones listed (an index's images): a relative path is
// resolved (`..`, symbolic links) and refused unless the real file lies inside the folder's real path and is listed.

import Foundation

/// Resolves client-supplied relative paths to files under `root`; anything else is nil (the server's 404).
public struct PathGuard: Sendable, Equatable {
    /// The root's real path (symbolic links resolved), without a trailing slash.
    public let root: String
    /// The real paths that may be served; nil: every regular file under the root.
    public let allowed: Set<String>?

    /// - Parameter files: when given, only these files (paths resolved to their real paths at once; missing ones
    ///   and ones outside the root dropped) are served.
    /// - Returns: nil when `root` is not an existing folder.
    public init?(root: String, files: [String]? = nil) {
        guard let real = Self.realPath(root) else { return nil }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isDir), isDir.boolValue else { return nil }
        let r = real == "/" ? "" : real
        self.root = r
        allowed = files.map { list in
            let cwd = FileManager.default.currentDirectoryPath
            return Set(list.compactMap { p in
                Self.realPath(p.hasPrefix("/") ? p : cwd + "/" + p).flatMap { $0.hasPrefix(r + "/") ? $0 : nil }
            })
        }
    }

    /// The real path of the regular file `relative` names under the root, or nil: empty, absolute, holding a NUL,
    /// missing, not a regular file, resolving (through `..` or a symbolic link) outside the root, or not listed.
    /// `relative` is already percent-decoded (a literal `%2e%2e` is a file name, and is looked up as one).
    public func resolve(_ relative: String) -> String? {
        guard !relative.isEmpty, !relative.hasPrefix("/"), !relative.contains("\0"), relative.utf8.count < 4096 else { return nil }
        guard let real = Self.realPath(root + "/" + relative), real.hasPrefix(root + "/") else { return nil }
        if let allowed, !allowed.contains(real) { return nil }
        var st = stat()
        guard stat(real, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return real
    }

    /// `path` relative to the root when its real path lies under it (for the URLs of results), else nil.
    public func relative(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard let real = Self.realPath(absolute), real.hasPrefix(root + "/") else { return nil }
        return String(real.dropFirst(root.count + 1))
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
