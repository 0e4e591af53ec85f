// Studies stored in Optuna's relational schema, in SQLite through GRDB: the tables, column types,
// spellings and alembic revision that optuna 5.1.0's RDBStorage creates (optuna/storages/_rdb/
// models.py, storage.py, alembic/versions/v3.2.0.a.py), so `optuna.load_study(storage="sqlite:///…")`
// and optuna-dashboard open the file without a migration, and a study Optuna wrote resumes here.
//
// Datetimes are naive UTC, `YYYY-MM-DD HH:MM:SS.ffffff`, as SQLAlchemy writes them; values are
// stored with Optuna's value types (FINITE, INF_POS, INF_NEG, and NAN for intermediate values).

import Foundation
import GRDB
import Tensor

final class OptunaStorage: @unchecked Sendable {

    let path: String
    private let queue: DatabaseQueue

    /// Opens `path`, creating the file and Optuna's tables when they are missing.
    /// - Throws: `ClipError` (.io) when the file cannot be opened, (.unsupported) when it holds another
    ///   schema revision.
    init(path: String) throws {
        self.path = path
        var config = Configuration()
        // Other processes (optuna, optuna-dashboard) wait for a write rather than fail. The journal
        // stays SQLite's default, as Optuna leaves it: writes are a few rows each, so WAL would buy
        // little, and without it the file alone is the whole study after every commit (a copy taken
        // while trials run opens as it is).
        config.busyMode = .timeout(60)
        do { queue = try DatabaseQueue(path: path, configuration: config) } catch {
            throw ClipError(.io, "\(path): cannot open the study database (\(OptunaStorage.describe(error)))")
        }
        try write("create Optuna's tables") { db in
            if try db.tableExists("studies") {
                guard try db.tableExists("alembic_version"),
                      let revision = try String.fetchOne(db, sql: "SELECT version_num FROM alembic_version") else {
                    throw ClipError(.unsupported, "\(path): an Optuna database without a schema revision (optuna < 1.3): "
                                    + "run `optuna storage upgrade --storage sqlite:///\(path)`")
                }
                guard revision == OptunaStorage.alembicRevision else {
                    throw ClipError(.unsupported, "\(path): Optuna schema revision \(revision), this build reads "
                                    + "\(OptunaStorage.alembicRevision) (optuna 3.2 to 5.1): run "
                                    + "`optuna storage upgrade --storage sqlite:///\(path)` with a current optuna")
                }
                return
            }
            for statement in OptunaStorage.schema { try db.execute(sql: statement) }
            try db.execute(sql: "INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)",
                           arguments: [OptunaStorage.schemaVersion, OptunaStorage.libraryVersion])
            try db.execute(sql: "INSERT INTO alembic_version (version_num) VALUES (?)", arguments: [OptunaStorage.alembicRevision])
        }
    }

    // MARK: - Transactions

    private static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e)" }
        return "\(error)"
    }

    /// Runs `body` in an IMMEDIATE transaction (other writers, Optuna's included, wait for it).
    func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        var result: T?
        do {
            try queue.inTransaction(.immediate) { db in
                result = try body(db)
                return .commit
            }
        } catch let error as ClipError {
            throw error
        } catch {
            throw ClipError(.io, "\(path): \(what): \(OptunaStorage.describe(error))")
        }
        guard let result else { throw ClipError(.internal, "\(path): \(what): no result") }
        return result
    }

    func read<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do { return try queue.read(body) } catch let error as ClipError {
            throw error
        } catch {
            throw ClipError(.io, "\(path): \(what): \(OptunaStorage.describe(error))")
        }
    }

    // MARK: - Studies

    /// The study's id and direction, nil when there is no study of that name.
    /// - Throws: `ClipError` (.unsupported) for a multi-objective study.
    func findStudy(_ name: String) throws -> (id: Int64, direction: StudyDirection)? {
        try read("read study \(name)") { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT study_id FROM studies WHERE study_name = ?", arguments: [name]) else {
                return nil
            }
            let directions = try String.fetchAll(db, sql: "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
                                                 arguments: [id])
            guard directions.count == 1 else {
                throw ClipError(.unsupported, "\(path): study \(name) has \(directions.count) objectives; only single-objective studies are supported")
            }
            return (id, directions[0] == "MINIMIZE" ? .minimize : .maximize)
        }
    }

    /// Creates a study (or finds the one another process just created under that name).
    func createStudy(_ name: String, direction: StudyDirection) throws -> Int64 {
        try write("create study \(name)") { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT study_id FROM studies WHERE study_name = ?", arguments: [name]) {
                return id
            }
            try db.execute(sql: "INSERT INTO studies (study_name) VALUES (?)", arguments: [name])
            let id = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, 0)",
                           arguments: [direction.optunaName, id])
            return id
        }
    }

    /// The distribution first stored for each parameter name of the study (what Optuna checks a new
    /// distribution against), or why it cannot be read (a distribution this layer cannot express,
    /// such as a `None` choice, written by Optuna).
    func storedDistributions(study: Int64) throws -> [String: Result<Distribution, ClipError>] {
        try read("read parameter distributions") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT p.param_name, p.distribution_json FROM trial_params p JOIN trials t ON p.trial_id = t.trial_id
                WHERE t.study_id = ? ORDER BY p.param_id
                """, arguments: [study])
            var out: [String: Result<Distribution, ClipError>] = [:]
            for row in rows {
                guard let name: String = row[0], out[name] == nil else { continue }
                do { out[name] = .success(try Distribution.fromOptunaJSON(row[1] ?? "")) } catch let e as ClipError {
                    out[name] = .failure(e.prefixed("\(path): parameter \(name)"))
                }
            }
            return out
        }
    }

    /// Marks the study's RUNNING trials FAIL (`fail_reason` says why); returns their numbers.
    func failRunningTrials(study: Int64, reason: String) throws -> [Int] {
        try write("fail stale trials") { db in
            let rows = try Row.fetchAll(db, sql: "SELECT trial_id, number FROM trials WHERE study_id = ? AND state = 'RUNNING'",
                                        arguments: [study])
            for row in rows {
                let id: Int64 = row[0]
                try finish(db, trial: id, state: .fail, value: nil, failReason: reason)
            }
            return rows.map { $0[1] as Int? ?? -1 }
        }
    }

    // MARK: - Trials

    /// Number of COMPLETE and PRUNED trials of the study.
    func finishedCount(study: Int64) throws -> Int {
        try read("count trials") { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM trials WHERE study_id = ? AND state IN ('COMPLETE', 'PRUNED')",
                             arguments: [study]) ?? 0
        }
    }

    /// Creates a RUNNING trial and stores the params `sample` picks for it from the study's other
    /// trials, in one transaction. Returns its row id, number and params.
    func createTrial(study: Int64,
                     sample: (_ number: Int, _ history: [FrozenTrial]) -> [(String, Distribution, ParamValue)])
        throws -> (id: Int64, number: Int, params: [(String, Distribution, ParamValue)]) {
        try write("create a trial") { db in
            let history = try trials(db, study: study)
            try db.execute(sql: "INSERT INTO trials (number, study_id, state, datetime_start) VALUES (NULL, ?, 'RUNNING', ?)",
                           arguments: [study, OptunaTime.string(Date())])
            let id = db.lastInsertedRowID
            // Optuna's number: the count of the study's trials created before this one.
            let number = try Int.fetchOne(db, sql: "SELECT count(*) FROM trials WHERE study_id = ? AND trial_id < ?",
                                          arguments: [study, id]) ?? 0
            try db.execute(sql: "UPDATE trials SET number = ? WHERE trial_id = ?", arguments: [number, id])
            let params = sample(number, history)
            for (name, distribution, value) in params {
                guard let internalValue = distribution.internalValue(value) else {
                    throw ClipError(.internal, "\(name): \(value) is not a value of \(distribution)")
                }
                try db.execute(sql: "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)",
                               arguments: [id, name, internalValue, distribution.optunaJSON])
            }
            return (id, number, params)
        }
    }

    private static func valueType(_ v: Double, nan: Bool) -> (Double?, String) {
        if v.isNaN { return (nil, "NAN") }
        if v == .infinity { return (nil, "INF_POS") }
        if v == -.infinity { return (nil, "INF_NEG") }
        return (v, "FINITE")
    }

    /// Stores (or replaces) the value reported at `step`.
    /// - Throws: `ClipError` (.invalidArgument) when the trial is no longer RUNNING.
    func setIntermediate(trial: Int64, step: Int, value: Double) throws {
        try write("report an intermediate value") { db in
            try requireRunning(db, trial)
            let (stored, type) = OptunaStorage.valueType(value, nan: true)
            try db.execute(sql: """
                INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
                VALUES (?, ?, ?, ?) ON CONFLICT (trial_id, step) DO UPDATE SET
                intermediate_value = excluded.intermediate_value, intermediate_value_type = excluded.intermediate_value_type
                """, arguments: [trial, step, stored, type])
        }
    }

    /// Sets a user attribute (JSON text).
    func setUserAttribute(trial: Int64, key: String, json: String) throws {
        try write("set a user attribute") { db in
            try requireRunning(db, trial)
            try db.execute(sql: """
                INSERT INTO trial_user_attributes (trial_id, "key", value_json) VALUES (?, ?, ?)
                ON CONFLICT (trial_id, "key") DO UPDATE SET value_json = excluded.value_json
                """, arguments: [trial, key, json])
        }
    }

    private func requireRunning(_ db: Database, _ trial: Int64) throws {
        let state = try String.fetchOne(db, sql: "SELECT state FROM trials WHERE trial_id = ?", arguments: [trial])
        guard state == TrialState.running.rawValue else {
            throw ClipError.invalidArgument("trial \(trial) is \(state ?? "missing"), not RUNNING: it cannot be updated")
        }
    }

    /// Ends a RUNNING trial.
    func finish(trial: Int64, state: TrialState, value: Double?, failReason: String?) throws {
        try write("finish a trial") { db in
            try requireRunning(db, trial)
            try finish(db, trial: trial, state: state, value: value, failReason: failReason)
        }
    }

    private func finish(_ db: Database, trial: Int64, state: TrialState, value: Double?, failReason: String?) throws {
        if let value {
            let (stored, type) = OptunaStorage.valueType(value, nan: false)
            try db.execute(sql: """
                INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, 0, ?, ?)
                ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value, value_type = excluded.value_type
                """, arguments: [trial, stored, type])
        }
        if let failReason {
            try db.execute(sql: """
                INSERT INTO trial_system_attributes (trial_id, "key", value_json) VALUES (?, 'fail_reason', ?)
                ON CONFLICT (trial_id, "key") DO UPDATE SET value_json = excluded.value_json
                """, arguments: [trial, PythonJSON.quoted(failReason)])
        }
        try db.execute(sql: "UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?",
                       arguments: [state.rawValue, OptunaTime.string(Date()), trial])
    }

    /// Every trial of the study, by number.
    func trials(study: Int64) throws -> [FrozenTrial] {
        try read("read trials") { db in try trials(db, study: study) }
    }

    /// Reads a trial back by row id.
    func trial(_ id: Int64, study: Int64) throws -> FrozenTrial? {
        try trials(study: study).first { $0.trialID == id }
    }

    private func trials(_ db: Database, study: Int64) throws -> [FrozenTrial] {
        struct Parts {
            var params: [String: ParamValue] = [:], distributions: [String: Distribution] = [:]
            var value: Double?, intermediate: [Int: Double] = [:], user: [String: String] = [:], system: [String: String] = [:]
        }
        var parts: [Int64: Parts] = [:]
        var parsed: [String: Distribution] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p
            JOIN trials t ON p.trial_id = t.trial_id WHERE t.study_id = ?
            """, arguments: [study]) {
            let id: Int64 = row[0], name: String = row[1], value: Double? = row[2], json: String = row[3]
            // A param whose distribution this layer cannot express (Optuna wrote it; it is not in this
            // study's search space, which `Study.open` checked) is left out of the trial.
            let distribution: Distribution
            if let d = parsed[json] { distribution = d } else {
                guard let d = try? Distribution.fromOptunaJSON(json) else { continue }
                distribution = d
                parsed[json] = distribution
            }
            if let value, let external = distribution.externalValue(value) {
                parts[id, default: Parts()].params[name] = external
                parts[id, default: Parts()].distributions[name] = distribution
            }
        }
        func decode(_ value: Double?, _ type: String) -> Double {
            switch type {
            case "INF_POS": return .infinity
            case "INF_NEG": return -.infinity
            case "NAN": return .nan
            default: return value ?? .nan
            }
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT v.trial_id, v.value, v.value_type FROM trial_values v JOIN trials t ON v.trial_id = t.trial_id
            WHERE t.study_id = ? AND v.objective = 0
            """, arguments: [study]) {
            parts[row[0], default: Parts()].value = decode(row[1], row[2])
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT v.trial_id, v.step, v.intermediate_value, v.intermediate_value_type FROM trial_intermediate_values v
            JOIN trials t ON v.trial_id = t.trial_id WHERE t.study_id = ?
            """, arguments: [study]) {
            parts[row[0], default: Parts()].intermediate[row[1]] = decode(row[2], row[3])
        }
        for (table, isUser) in [("trial_user_attributes", true), ("trial_system_attributes", false)] {
            for row in try Row.fetchAll(db, sql: """
                SELECT a.trial_id, a."key", a.value_json FROM \(table) a JOIN trials t ON a.trial_id = t.trial_id
                WHERE t.study_id = ?
                """, arguments: [study]) {
                guard let key: String = row[1], let json: String = row[2] else { continue }
                if isUser { parts[row[0], default: Parts()].user[key] = json } else { parts[row[0], default: Parts()].system[key] = json }
            }
        }
        return try Row.fetchAll(db, sql: """
            SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials WHERE study_id = ?
            ORDER BY number, trial_id
            """, arguments: [study]).map { row in
            let id: Int64 = row[0]
            let p = parts[id] ?? Parts()
            let stateName: String = row[2]
            return FrozenTrial(number: row[1] ?? -1, state: TrialState(rawValue: stateName) ?? .fail, value: p.value,
                               params: p.params, distributions: p.distributions, intermediateValues: p.intermediate,
                               datetimeStart: (row[3] as String?).flatMap(OptunaTime.date),
                               datetimeComplete: (row[4] as String?).flatMap(OptunaTime.date),
                               userAttributes: p.user, systemAttributes: p.system, trialID: id)
        }
    }
}
