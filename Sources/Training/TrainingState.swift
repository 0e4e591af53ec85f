// A trainer's resumable state: its position (epoch, batch within the epoch,
// optimizer updates) in a checkpoint's metadata, beside the AdamW moments.

import Foundation
import Tensor
import Autograd
import NN

/// Where a run stands, and the optimizer moments that go with it (`optimizer.*` tensors).
struct TrainingState {
    var epoch: Int
    var batch: Int
    var updates: Int

    /// The optimizer's moments as `optimizer.*` tensors, and the position (plus `extra`) as metadata.
    func entries(_ optimizer: AdamW, named: [(key: String, variable: Variable)],
                 extra: [String: String] = [:]) -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let tensors = optimizer.state(named: named).map { (name: "optimizer." + $0.name, tensor: $0.tensor) }
        let meta = extra.merging(["epoch": String(epoch), "batch": String(batch), "updates": String(updates)]) { _, b in b }
        return (tensors, meta)
    }

    /// Reads the position from `file`, restores `optimizer` from its `optimizer.*` tensors, and returns
    /// the position with every tensor of the file.
    /// - Throws: `ClipError` when the file holds no position.
    static func read(_ file: SafeTensorsFile, path: String, into optimizer: AdamW,
                     named: [(key: String, variable: Variable)]) throws -> (state: TrainingState, tensors: [String: Tensor]) {
        guard let e = file.metadata["epoch"].flatMap(Int.init), let b = file.metadata["batch"].flatMap(Int.init),
              let u = file.metadata["updates"].flatMap(Int.init) else {
            throw ClipError.format("\(path): not a training checkpoint (epoch, batch, updates missing)")
        }
        let all = try file.tensors()
        var moments: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("optimizer.") { moments[String(k.dropFirst("optimizer.".count))] = v }
        try optimizer.load(state: moments, named: named)
        return (TrainingState(epoch: e, batch: b, updates: u), all)
    }
}
