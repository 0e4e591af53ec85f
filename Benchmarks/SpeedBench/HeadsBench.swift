// SpeedBench heads-mlp: epochs of projection-head training on pre-encoded embeddings, as
// Benchmarks/heads_ref.py times the same head in PyTorch (Benchmarks/compare-heads.sh runs both).
//
// An `mlp` head (768 → 1024 → GELU → dropout 0.1 → 512 → LayerNorm → L2, per tower), symmetric
// InfoNCE at temperature 0.07, AdamW (lr 1e-4, weight decay 0.01 on matrices), over `pairs` random
// pairs (unit-normalised Gaussian rows, fixed seed) in shuffled batches of `batch` (the last partial
// batch dropped). Each step is the trainer's: zeroGrad → objective.loss → backward → step → afterStep.
// One warm-up epoch, then `epochs` timed epochs; per_s is epochs per second (median epoch); cpu_sec
// is the process's CPU time per timed epoch (all threads).
// `--breakdown` also prints the share of a step spent in each phase; `--gemm-share` replays one
// step's GEMMs alone.

import Dispatch
import Foundation
import Autograd
import Heads
import NN
import Tensor

/// Options of the heads-mlp case.
struct HeadsBenchOptions {
    var pairs = 100_000
    var epochs = 3
    var breakdown = false
}

/// User + system CPU time of this process so far: on a shared machine, one thread's CPU time per
/// epoch varies less than its wall time.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func headsBench(_ o: HeadsBenchOptions, batch: Int) throws {
    let dim = 768, outputDim = 512
    var g = RandomGenerator(seed: 7)
    let images = Tensor.randn([o.pairs, dim], generator: &g).l2Normalized(axis: -1).contiguous()
    let texts = Tensor.randn([o.pairs, dim], generator: &g).l2Normalized(axis: -1).contiguous()

    let heads = try ProjectionHeads(config: HeadsConfig(type: .mlp, outputDim: outputDim), imageDim: dim, textDim: dim, seed: 0)
    let objective = try HeadsObjective(heads: heads, loss: HeadLossConfig(type: .softmax, temperature: 0.07))
    let optimizer = AdamW(ParameterGroup.decaySplit(heads, weightDecay: 0.01), learningRate: 1e-4)

    let steps = o.pairs / batch
    guard steps > 0 else { throw ClipError.invalidArgument("heads-mlp: --pairs \(o.pairs) is less than one batch of \(batch)") }
    let batchImages = Tensor.zeros([batch, dim]), batchTexts = Tensor.zeros([batch, dim])
    var order = Array(0..<o.pairs)
    var phase = [Double](repeating: 0, count: 5)   // gather, zeroGrad, forward + loss, backward, step + afterStep
    var lastLoss: Float = 0

    func lap(_ k: Int, _ t0: inout UInt64) {
        let t = DispatchTime.now().uptimeNanoseconds
        phase[k] += Double(t - t0) / 1e9
        t0 = t
    }

    func epoch() {
        g.shuffle(&order)
        for s in 0..<steps {
            var t0 = DispatchTime.now().uptimeNanoseconds
            for r in 0..<batch {
                let i = order[s * batch + r]
                (batchImages.data + r * dim).update(from: images.data + i * dim, count: dim)
                (batchTexts.data + r * dim).update(from: texts.data + i * dim, count: dim)
            }
            batchImages.storage.markModified()
            batchTexts.storage.markModified()
            lap(0, &t0)
            optimizer.zeroGrad()
            lap(1, &t0)
            let loss = objective.loss(images: batchImages, texts: batchTexts)
            lap(2, &t0)
            loss.backward()
            lap(3, &t0)
            optimizer.step()
            objective.afterStep()
            lap(4, &t0)
            if s == steps - 1 { lastLoss = loss.value.item }
        }
    }

    epoch()
    let warmLoss = lastLoss
    phase = phase.map { _ in 0 }
    let cpu0 = processCPUSeconds()
    let times = (0..<max(1, o.epochs)).map { _ in seconds { epoch() } }
    let cpuPerEpoch = (processCPUSeconds() - cpu0) / Double(times.count)
    let sec = times.sorted()[times.count / 2]
    print(String(format: "{\"what\": \"heads_mlp_train_epoch\", \"impl\": \"clipcore\", \"pairs\": %d, \"batch\": %d, \"steps\": %d, "
                 + "\"threads\": %d, \"epochs\": %d, \"sec\": %.4f, \"per_s\": %.4f, \"steps_per_s\": %.2f, \"epoch_secs\": [%@], \"cpu_sec\": %.4f, "
                 + "\"loss_after_warmup\": %.5f, \"loss\": %.5f, \"peak_rss_mb\": %.0f, \"blas\": \"%@\", \"kernels\": \"%@\", "
                 + "\"cpu_flags\": \"%@\", \"runtime\": \"%@\"}",
                 o.pairs, batch, steps, Threads.count, times.count, sec, 1 / sec, Double(steps) / sec,
                 times.map { String(format: "%.3f", $0) }.joined(separator: ", "), cpuPerEpoch, warmLoss, lastLoss, peakRSSMB(),
                 Threads.blasCoreName, Threads.kernelPath, cpuFlags(), Threads.runtimeSummary))
    if o.breakdown {
        let total = phase.reduce(0, +)
        let names = ["gather", "zero_grad", "forward_loss", "backward", "step"]
        let parts = zip(names, phase).map { String(format: "\"%@_share\": %.3f", $0, $1 / total) }.joined(separator: ", ")
        print(String(format: "{\"what\": \"heads_mlp_breakdown\", \"threads\": %d, \"step_ms\": %.2f, %@}",
                     Threads.count, 1000 * total / Double(steps * times.count), parts))
    }
    if gemmShare {
        var batchStep = 0
        try printGEMMShare("heads_mlp_step_b\(batch)") {
            optimizer.zeroGrad()
            let s = batchStep % steps
            batchStep += 1
            for r in 0..<batch {
                let i = order[s * batch + r]
                (batchImages.data + r * dim).update(from: images.data + i * dim, count: dim)
                (batchTexts.data + r * dim).update(from: texts.data + i * dim, count: dim)
            }
            objective.loss(images: batchImages, texts: batchTexts).backward()
            optimizer.step()
            objective.afterStep()
        }
    }
    fflush(stdout)
}
