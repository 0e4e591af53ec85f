// `SpeedBench linear-probe`: one multinomial logistic-regression fit (the linear probe's classifier) on
// features from a safetensors file written by Benchmarks/linear_probe_ref.py --write, timed, with its
// iterations, test accuracy and objective. Benchmarks/compare-eval.sh runs it beside scikit-learn.

import Dispatch
import Foundation
import Evaluation
import NN
import Tensor

struct LinearProbeBenchOptions {
    /// The safetensors file: train_x, train_y, test_x, test_y.
    var data: String?
    /// Inverse L2 strength (scikit-learn's C).
    var c = 1.0
}

func linearProbeBench(_ options: LinearProbeBenchOptions) throws {
    guard let path = options.data else { throw ClipError.invalidArgument("linear-probe needs --data FILE (Benchmarks/linear_probe_ref.py --write FILE)") }
    let file = try SafeTensorsFile(path: path)
    let trainLabels = try file.int64("train_y").map { Int($0) }, testLabels = try file.int64("test_y").map { Int($0) }
    let classes = (trainLabels.max() ?? 0) + 1
    let train = try LabelledFeatures(features: file.tensor("train_x").contiguous(), labels: trainLabels, classCount: classes)
    let test = try LabelledFeatures(features: file.tensor("test_x").contiguous(), labels: testLabels, classCount: classes)
    var model: LogisticRegression?
    let cpu0 = processCPUSeconds()
    let sec = try seconds { model = try LogisticRegression.fit(train, c: options.c) }
    let cpu = processCPUSeconds() - cpu0
    guard let model else { return }
    let accuracy = try ClassificationScores(scores: model.scores(test.features), labels: test.labels).top1
    print(String(format: "{\"what\": \"linear_probe_n%d_d%d_k%d\", \"impl\": \"clipcore\", \"threads\": %d, \"C\": %@, \"sec\": %.4f, \"cpu_sec\": %.4f, \"iterations\": %d, \"converged\": %@, \"accuracy\": %.6f, \"objective\": %.12g, \"peak_rss_mb\": %.0f, \"blas\": \"%@\", \"kernels\": \"%@\"}",
                 train.count, train.dimension, classes, Threads.count, String(options.c), sec, cpu, model.iterations,
                 model.converged ? "true" : "false", accuracy, model.objective, peakRSSMB(), Threads.blasCoreName,
                 Threads.kernelPath))
    fflush(stdout)
}


