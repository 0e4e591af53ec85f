import Tensor

/// The kind of the `ClipError` that `body` throws; nil when it returns or throws another error.
func thrownKind<T>(_ body: () throws -> T) -> ClipError.Kind? {
    do {
        _ = try body()
        return nil
    } catch {
        return (error as? ClipError)?.kind
    }
}
