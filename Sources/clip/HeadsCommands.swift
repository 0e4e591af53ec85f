// `clip heads`: projection heads on pre-encoded embeddings (seed 002): split, train, evaluate, tune, demo.

import ArgumentParser
import Foundation
import Tensor
import Search
import Training

struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Projection heads that align two frozen embedding spaces (pre-encoded image and text embeddings).",
        discussion: """
            The config is YAML with seed 002's blocks: data (image_embeddings, text_embeddings, splits), split, \
            model, loss, training, evaluation, output_dir (see docs/HEADS.md). Typical order: split, tune \
            (optional), train, evaluate.
            """,
        subcommands: [Split.self, TrainHeads.self, Evaluate.self, Tune.self, HeadsDemo.self])

    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Image-level train / val / test splits and a tuning subset of train, with a leakage check read back from the files.")
        @Argument(help: "Run config (YAML).") var config: String

        func run() throws {
            let c = try HeadsRunConfig.load(path: config)
            let data = try HeadsData.load(c)
            let split = try HeadsSplit.make(data, sizes: c.split)
            let check = try split.write(to: c.data.splits, data: data)
            for p in split.parts {
                print(String(format: "%-13@ %7d images %8d captions", p.split, p.imageIds.count, p.captionRows.count))
            }
            print("leakage check: \(check.passed ? "passed" : "FAILED: " + check.failures.joined(separator: "; ")) → \(c.data.splits)/\(HeadsSplit.checkFile)")
            if !check.passed { throw ExitCode.failure }
        }
    }

    struct TrainHeads: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train the heads: early stopping on validation, best_model.safetensors, loss_history.json, training_curves.png; a killed run resumes.")
        @Argument(help: "Run config (YAML), e.g. a tuning study's best_config.yaml.") var config: String
        @Flag(help: "Start again even if output_dir holds a checkpoint.") var noResume = false
        @Flag(help: "Evaluate on the test split afterwards.") var evaluate = false

        func run() throws {
            let c = try HeadsRunConfig.load(path: config)
            try HeadsCommand.train(c, resume: !noResume, evaluate: evaluate)
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate best_model.safetensors on the test split: R@K, MRR, nDCG@10 both ways, PCA and t-SNE maps → evaluation_results/.")
        @Argument(help: "Run config (YAML).") var config: String
        @Flag(help: "Skip the PCA and t-SNE maps.") var noPlots = false

        func run() throws {
            let c = try HeadsRunConfig.load(path: config)
            let data = try HeadsData.load(c)
            let (split, _) = try HeadsSplit.read(folder: c.data.splits, data: data)
            let r = try HeadsEvaluation.run(c, data: data, split: split, plots: !noPlots)
            HeadsCommand.printReport(r)
            print("→ \(c.outputDir)/\(HeadsEvaluation.folder)/metrics.json")
        }
    }

    struct Tune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A hyperparameter study over a base run config (TPE, median pruning, parallel trials) in Optuna's SQLite schema; re-running resumes it.",
            discussion: """
                The tuning file holds base_config, output_dir, trial_epochs and the study blocks (study, sampler, pruner, \
                search_space; docs/STUDIES.md). Trials train on the split's tuning subset and report validation R@1 each \
                epoch; output_dir/best_config.yaml is the base config with the best params, for `clip heads train`. \
                Python opens the study with optuna.load_study(study_name=NAME, storage="sqlite:///PATH").
                """)
        @Argument(help: "Tuning file (YAML).") var config: String

        func run() throws {
            let tc = try HeadsTuneConfig.load(path: config)
            let s = tc.study.study
            print("study \(s.name) in \(s.storage): up to \(s.nTrials) finished trials, \(s.jobs) at once"
                  + (s.timeout.map { String(format: ", no new trial after %.0f s", $0) } ?? ""))
            let r = try HeadsTuning.run(tc) { print($0) }
            let counts = Dictionary(grouping: r.trials, by: \.state).mapValues(\.count)
            print(counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", "))
            guard let b = r.best else { print("no trial completed"); throw ExitCode.failure }
            let params = b.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print(String(format: "best: trial %d, val R@1 %.2f, ", b.number, b.value ?? 0) + params)
            print("best config → \(r.bestConfigPath ?? "")")
        }
    }

    /// Trains one config (resuming), printing each epoch; optionally evaluates.
    static func train(_ c: HeadsRunConfig, resume: Bool, evaluate: Bool) throws {
        let data = try HeadsData.load(c)
        let (split, _) = try HeadsSplit.read(folder: c.data.splits, data: data)
        let trainer = try HeadsTrainer(config: c, data: data, split: split)
        print("\(c.model.type) heads: \(data.imageDim)-d images, \(data.textDim)-d texts → \(c.model.outputDim); "
              + "\(trainer.trainingRows.count) training captions, \(split.val.captionRows.count) validation")
        let h = try trainer.run(resume: resume) { e in
            print(String(format: "epoch %3d  train loss %.4f  val loss %.4f  val R@1 %6.2f%@  (%.1f s)",
                         e.epoch, e.trainLoss, e.valLoss, e.valR1, e.improved ? "  *" : "", e.seconds))
        }
        print("best epoch \(h.bestEpoch) (\(h.earlyStopping)), val R@1 \(String(format: "%.2f", h.bestValR1))"
              + (h.stoppedEarly ? "; stopped early" : "") + " → \(c.outputDir)")
        if evaluate { printReport(try HeadsEvaluation.run(c, data: data, split: split)) }
    }

    static func printReport(_ r: HeadsEvaluationReport) {
        let ks = r.metrics.ks
        print("test: \(r.metrics.nImages) images, \(r.metrics.nTexts) captions")
        print(table(rows: [("untrained heads", r.untrained), ("trained heads", r.metrics)], ks: ks))
        if !r.mapTrustworthiness.isEmpty {
            print("maps of \(r.mapPoints) points: " + r.mapTrustworthiness.sorted { $0.key < $1.key }
                .map { String(format: "%@ trustworthiness %.3f", $0.key, $0.value) }.joined(separator: ", "))
        }
    }

    /// One line per model: I2T and T2I R@K, MRR and nDCG@10.
    static func table(rows: [(String, RetrievalMetrics?)], ks: [Int]) -> String {
        let width = max(16, rows.map(\.0.count).max() ?? 0)
        func cell(_ s: String) -> String { String(repeating: " ", count: max(0, 7 - s.count)) + s }
        var head = "".padding(toLength: width, withPad: " ", startingAt: 0)
        for d in ["I2T", "T2I"] { head += ks.map { cell("\(d)@\($0)") }.joined() + cell("MRR") + cell("nDCG") }
        var lines = [head]
        for (name, m) in rows {
            guard let m else { continue }
            var line = name.padding(toLength: width, withPad: " ", startingAt: 0)
            for r in [m.imageToText, m.textToImage] {
                line += ks.map { cell(String(format: "%.2f", r.recall[$0] ?? 0)) }.joined()
                line += cell(String(format: "%.3f", r.mrr)) + cell(String(format: "%.3f", r.ndcg10))
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
