// A hyperparameter study: creates or resumes a study in an Optuna-schema SQLite file, samples each
// trial's params (define-and-run: the whole conditional set when the trial starts), runs the
// objective on up to `jobs` threads, records values, prunes, and reports the best trial.

import Foundation
import Tensor

/// A study stored in Optuna's SQLite schema.
///
/// ```swift
/// let study = try Study.open(storage: "study.db", name: "heads_tuning", direction: .maximize,
///                            space: config.space, sampler: config.sampler, pruner: config.pruner)
/// try study.optimize(nTrials: 20, timeout: 600, jobs: 2) { trial in
///     let lr = try trial.double("training.learning_rate")
///     var r1 = 0.0
///     for epoch in 0..<10 {
///         r1 = trainOneEpoch(lr)                       // the caller's work
///         try trial.report(r1, step: epoch)
///         if try trial.shouldPrune() { throw TrialPruned() }
///     }
///     return r1
/// }
/// print(study.bestTrial?.params ?? [:])
/// ```
public final class Study: @unchecked Sendable {
    public let name: String
    public let direction: StudyDirection
    public let space: SearchSpace
    public let sampler: SamplerSettings
    public let pruner: PrunerSettings
    /// The SQLite file.
    public var storagePath: String { storage.path }
    /// The numbers of the trials found RUNNING when the study was opened, now FAIL.
    public let failedOnOpen: [Int]
    /// `optimize` stops (and throws) after this many trials in a row failed.
    public var maxConsecutiveFailures = 10

    let storage: OptunaStorage
    let studyID: Int64
    private let engine: Sampler
    private let lock = NSLock()

    /// Reason stored in `fail_reason` for trials a stopped process left RUNNING.
    static let staleReason = "the trial was RUNNING when the study was reopened (its process stopped)"

    private init(storage: OptunaStorage, id: Int64, name: String, direction: StudyDirection, space: SearchSpace,
                 sampler: SamplerSettings, pruner: PrunerSettings, failedOnOpen: [Int]) {
        self.storage = storage
        self.studyID = id
        self.name = name
        self.direction = direction
        self.space = space
        self.sampler = sampler
        self.pruner = pruner
        self.failedOnOpen = failedOnOpen
        self.engine = Sampler(settings: sampler, seed: sampler.seed ?? UInt64.random(in: 0...UInt64.max))
    }

    /// Opens the study `name` in the SQLite file `path`, creating the file, Optuna's tables and the
    /// study when missing. Resuming marks the trials a stopped process left RUNNING as FAIL.
    /// - Throws: `ClipError` (.invalidArgument) when the stored study has another direction, or a
    ///   parameter with another kind, log setting or categorical choices (Optuna's message, the
    ///   parameter and both distributions); (.io, .unsupported) for a file that cannot be used.
    public static func open(storage path: String, name: String, direction: StudyDirection, space: SearchSpace,
                            sampler: SamplerSettings = .tpe(TPESettings()),
                            pruner: PrunerSettings = .median(MedianPrunerSettings())) throws -> Study {
        guard !name.isEmpty else { throw ClipError.invalidArgument("study name must not be empty") }
        let storage = try OptunaStorage(path: path)
        let id: Int64
        if let found = try storage.findStudy(name) {
            guard found.direction == direction else {
                throw ClipError.invalidArgument("study \(name) in \(path) was created to \(found.direction.rawValue); "
                                                + "it cannot be resumed to \(direction.rawValue) (use a new study name)")
            }
            id = found.id
            let stored = try storage.storedDistributions(study: id)
            for p in space.parameters {
                guard let stored = stored[p.name] else { continue }
                let old = try stored.get()
                guard let why = p.distribution.incompatibility(with: old) else { continue }
                throw ClipError.invalidArgument("\(why) Parameter \(p.name) of study \(name) in \(path) was stored as "
                                                + "\(old), the search space now has \(p.distribution) "
                                                + "(keep the stored range or use a new study name)")
            }
        } else {
            id = try storage.createStudy(name, direction: direction)
        }
        let failed = try storage.failRunningTrials(study: id, reason: staleReason)
        return Study(storage: storage, id: id, name: name, direction: direction, space: space, sampler: sampler,
                     pruner: pruner, failedOnOpen: failed)
    }

    /// Opens the study a study file describes; a relative `storage` is resolved against `directory`.
    public static func open(_ config: StudyConfig, relativeTo directory: String? = nil) throws -> Study {
        var path = config.study.storage
        if let directory, !path.hasPrefix("/") { path = (directory as NSString).appendingPathComponent(path) }
        return try open(storage: path, name: config.study.name, direction: config.study.direction, space: config.space,
                        sampler: config.sampler, pruner: config.pruner)
    }

    // MARK: - Results

    /// Every trial, by number.
    public func trials() throws -> [FrozenTrial] { try storage.trials(study: studyID) }

    /// The COMPLETE trial with the best value (the lowest number among equals), nil when none.
    public func best() throws -> FrozenTrial? {
        let complete = try trials().filter { $0.state == .complete && $0.value.map { !$0.isNaN } == true }
        return complete.reduce(nil) { (best: FrozenTrial?, t: FrozenTrial) in
            guard let b = best else { return t }
            return direction == .maximize ? (t.value! > b.value! ? t : b) : (t.value! < b.value! ? t : b)
        }
    }

    /// The best trial (nil when there is none or the database cannot be read; `best()` throws instead).
    public var bestTrial: FrozenTrial? { try? best() }

    /// The best trial's params (what a best-config file records; `SearchSpace.nestedYAML` nests them).
    public var bestParams: [String: ParamValue]? { bestTrial?.params }

    // MARK: - Optimisation

    /// Runs trials until the study holds `nTrials` finished (COMPLETE or PRUNED) trials, counting those
    /// of earlier runs, so re-running the same call resumes. FAIL trials do not count; after
    /// `maxConsecutiveFailures` failures in a row the call stops and throws the last error.
    /// - Parameters:
    ///   - timeout: seconds after which no new trial starts (running ones finish).
    ///   - jobs: trials at once, on threads (at most the number of cores).
    ///   - objective: returns the value to optimise; throws `TrialPruned()` to end a pruned trial; any
    ///     other error (or a NaN value) makes the trial FAIL with the message in `fail_reason`.
    ///   - onTrialFinished: called after each trial ends, with the trial as stored.
    /// - Throws: `ClipError` (.invalidArgument) for nTrials < 1 or jobs < 1; storage errors; the last
    ///   objective error after too many failures in a row.
    public func optimize(nTrials: Int, timeout: Double? = nil, jobs: Int = 1,
                         objective: @escaping @Sendable (Trial) throws -> Double,
                         onTrialFinished: (@Sendable (FrozenTrial) -> Void)? = nil) throws {
        guard nTrials >= 1 else { throw ClipError.invalidArgument("n_trials must be at least 1 (got \(nTrials))") }
        guard jobs >= 1 else { throw ClipError.invalidArgument("n_jobs must be at least 1 (got \(jobs))") }
        if let timeout, !(timeout > 0) { throw ClipError.invalidArgument("timeout must be positive (got \(timeout))") }
        let workers = min(jobs, max(1, ProcessInfo.processInfo.activeProcessorCount))
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        let run = RunState()

        let work: @Sendable (Int) -> Void = { [self] _ in
            while true {
                // Start a trial (sampling sees the trials running in other threads).
                let trial: Trial
                do {
                    guard let t = try run.locked({ () throws -> Trial? in
                        if run.stop { return nil }
                        if let deadline, Date() >= deadline { return nil }
                        if try storage.finishedCount(study: studyID) + run.inFlight >= nTrials { return nil }
                        let t = try startTrial()
                        run.inFlight += 1
                        return t
                    }) else { return }
                    trial = t
                } catch {
                    run.locked { run.fail(error) }
                    return
                }
                let outcome = Result { try objective(trial) }
                do {
                    let frozen = try finishTrial(trial, outcome)
                    run.locked {
                        run.inFlight -= 1
                        if frozen.state == .fail {
                            run.consecutiveFailures += 1
                            if run.consecutiveFailures >= maxConsecutiveFailures, case .failure(let e) = outcome {
                                run.fail(Study.failureLimitError(name, run.consecutiveFailures, e))
                            }
                        } else {
                            run.consecutiveFailures = 0
                        }
                    }
                    onTrialFinished?(frozen)
                } catch {
                    run.locked { run.inFlight -= 1; run.fail(error) }
                    return
                }
            }
        }
        // Threads of their own (not the shared pool), so `jobs` trials really run at once even when the
        // pool is busy; the calling thread is the first worker.
        let done = DispatchGroup()
        for w in 1..<workers {
            done.enter()
            let thread = Thread { work(w); done.leave() }
            thread.name = "study \(name) worker \(w)"
            thread.start()
        }
        work(0)
        done.wait()
        if let error = run.error { throw error }
    }

    private static func failureLimitError(_ name: String, _ count: Int, _ last: Error) -> ClipError {
        let kind = (last as? ClipError)?.kind ?? .internal
        return ClipError(kind, "study \(name): \(count) trials failed in a row; the last with: \(last)")
    }

    /// Creates a RUNNING trial with its params sampled from the study's history.
    private func startTrial() throws -> Trial {
        let (id, number, params) = try storage.createTrial(study: studyID) { number, history in
            var values: [String: ParamValue] = [:], out: [(String, Distribution, ParamValue)] = []
            for p in space.parameters where space.isActive(p, given: values) {
                let v = engine.sample(p, trial: number, history: history, direction: direction)
                values[p.name] = v
                out.append((p.name, p.distribution, v))
            }
            return out
        }
        return Trial(study: self, id: id, number: number, params: params)
    }

    /// Records how the objective ended; returns the trial as stored.
    private func finishTrial(_ trial: Trial, _ outcome: Result<Double, Error>) throws -> FrozenTrial {
        switch outcome {
        case .success(let value) where value.isNaN:
            try storage.finish(trial: trial.trialID, state: .fail, value: nil,
                               failReason: "The objective function returned nan.")
        case .success(let value):
            try storage.finish(trial: trial.trialID, state: .complete, value: value, failReason: nil)
        case .failure(let error) where error is TrialPruned:
            // Optuna: a pruned trial's value is its last intermediate value, unless that is NaN.
            let last = trial.intermediateValues.max { $0.key < $1.key }?.value
            try storage.finish(trial: trial.trialID, state: .pruned, value: last.flatMap { $0.isNaN ? nil : $0 }, failReason: nil)
        case .failure(let error):
            try storage.finish(trial: trial.trialID, state: .fail, value: nil, failReason: "\(error)")
        }
        guard let frozen = try storage.trial(trial.trialID, study: studyID) else {
            throw ClipError(.internal, "\(storagePath): trial \(trial.number) vanished")
        }
        return frozen
    }

    /// The pruner's decision for a trial with these intermediate values.
    func shouldPrune(_ intermediate: [Int: Double]) throws -> Bool {
        guard case .median(let m) = pruner, !intermediate.isEmpty else { return false }
        let completed = try trials().filter { $0.state == .complete }.map(\.intermediateValues)
        return m.shouldPrune(intermediate: intermediate, completed: completed, direction: direction)
    }

    /// Starts a trial and leaves it RUNNING, as a process killed in the middle of a trial does
    /// (tests of resuming).
    package func startTrialAndAbandon() throws -> Trial { try startTrial() }
}

/// The shared state of one `optimize` call's workers.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    var inFlight = 0
    var consecutiveFailures = 0
    var stop = false
    var error: Error?

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Stops every worker; the first error is the one `optimize` throws.
    func fail(_ e: Error) {
        if error == nil { error = e }
        stop = true
    }
}
