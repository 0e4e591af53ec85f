// A module that only groups children under keys (PyTorch's nn.ModuleList and
// the indices of an nn.Sequential).

/// Children keyed "0", "1", … (PyTorch's `nn.ModuleList`), or by the given names: a module that only
/// groups children under one key (HF's SigLIP `embeddings`, the indices of an `nn.Sequential` that
/// skips its parameterless layers).
public final class ModuleList: Module {
    public convenience init(_ modules: [Module]) {
        self.init(named: modules.enumerated().map { (String($0.offset), $0.element) })
    }

    public init(named children: [(String, Module)]) {
        super.init()
        for (k, m) in children { register(k, m) }
    }
}
