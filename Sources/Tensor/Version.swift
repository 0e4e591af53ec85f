// clipcore's version: one constant for the C ABI (clip_version) and the command line (clip --version).

/// clipcore's version.
public enum ClipCoreVersion {
    /// "MAJOR.MINOR.PATCH": what `clip_version()` returns and `clip --version` prints. It equals
    /// CLIP_VERSION_MAJOR/MINOR/PATCH of include/clipcore.h and the version in python/pyproject.toml
    /// (TensorTests' VersionTests compare them).
    public static let string = "0.2.0"
}
