// Optuna 5.1.0's relational schema as SQLAlchemy emits it for SQLite (optuna/storages/_rdb/models.py,
// alembic/versions/v3.2.0.a.py): `sqlite3 study.db .schema` on a file made here is byte-for-byte what
// optuna creates. Data, kept apart from the storage's logic in OptunaStorage.swift.

extension OptunaStorage {
    /// The alembic revision of optuna's newest schema (optuna 3.2 through 5.1).
    static let alembicRevision = "v3.2.0.a"
    /// `version_info.schema_version` (frozen by Optuna at 12) and the library version recorded.
    static let schemaVersion = 12
    static let libraryVersion = "5.1.0"

    /// optuna 5.1.0's tables, as SQLAlchemy emits them for SQLite.
    static let schema: [String] = [
        """
        CREATE TABLE studies (
        \tstudy_id INTEGER NOT NULL, 
        \tstudy_name VARCHAR(512) NOT NULL, 
        \tPRIMARY KEY (study_id)
        )
        """,
        "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name)",
        """
        CREATE TABLE version_info (
        \tversion_info_id INTEGER NOT NULL, 
        \tschema_version INTEGER, 
        \tlibrary_version VARCHAR(256), 
        \tPRIMARY KEY (version_info_id), 
        \tCHECK (version_info_id=1)
        )
        """,
        """
        CREATE TABLE study_directions (
        \tstudy_direction_id INTEGER NOT NULL, 
        \tdirection VARCHAR(8) NOT NULL, 
        \tstudy_id INTEGER NOT NULL, 
        \tobjective INTEGER NOT NULL, 
        \tPRIMARY KEY (study_direction_id), 
        \tUNIQUE (study_id, objective), 
        \tFOREIGN KEY(study_id) REFERENCES studies (study_id)
        )
        """,
        """
        CREATE TABLE study_user_attributes (
        \tstudy_user_attribute_id INTEGER NOT NULL, 
        \tstudy_id INTEGER, 
        \t"key" VARCHAR(512), 
        \tvalue_json TEXT, 
        \tPRIMARY KEY (study_user_attribute_id), 
        \tUNIQUE (study_id, "key"), 
        \tFOREIGN KEY(study_id) REFERENCES studies (study_id)
        )
        """,
        """
        CREATE TABLE study_system_attributes (
        \tstudy_system_attribute_id INTEGER NOT NULL, 
        \tstudy_id INTEGER, 
        \t"key" VARCHAR(512), 
        \tvalue_json TEXT, 
        \tPRIMARY KEY (study_system_attribute_id), 
        \tUNIQUE (study_id, "key"), 
        \tFOREIGN KEY(study_id) REFERENCES studies (study_id)
        )
        """,
        """
        CREATE TABLE trials (
        \ttrial_id INTEGER NOT NULL, 
        \tnumber INTEGER, 
        \tstudy_id INTEGER, 
        \tstate VARCHAR(8) NOT NULL, 
        \tdatetime_start DATETIME, 
        \tdatetime_complete DATETIME, 
        \tPRIMARY KEY (trial_id), 
        \tFOREIGN KEY(study_id) REFERENCES studies (study_id)
        )
        """,
        "CREATE INDEX ix_trials_study_id ON trials (study_id)",
        """
        CREATE TABLE trial_user_attributes (
        \ttrial_user_attribute_id INTEGER NOT NULL, 
        \ttrial_id INTEGER, 
        \t"key" VARCHAR(512), 
        \tvalue_json TEXT, 
        \tPRIMARY KEY (trial_user_attribute_id), 
        \tUNIQUE (trial_id, "key"), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE trial_system_attributes (
        \ttrial_system_attribute_id INTEGER NOT NULL, 
        \ttrial_id INTEGER, 
        \t"key" VARCHAR(512), 
        \tvalue_json TEXT, 
        \tPRIMARY KEY (trial_system_attribute_id), 
        \tUNIQUE (trial_id, "key"), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE trial_params (
        \tparam_id INTEGER NOT NULL, 
        \ttrial_id INTEGER, 
        \tparam_name VARCHAR(512), 
        \tparam_value FLOAT, 
        \tdistribution_json TEXT, 
        \tPRIMARY KEY (param_id), 
        \tUNIQUE (trial_id, param_name), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE trial_values (
        \ttrial_value_id INTEGER NOT NULL, 
        \ttrial_id INTEGER NOT NULL, 
        \tobjective INTEGER NOT NULL, 
        \tvalue FLOAT, 
        \tvalue_type VARCHAR(7) NOT NULL, 
        \tPRIMARY KEY (trial_value_id), 
        \tUNIQUE (trial_id, objective), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE trial_intermediate_values (
        \ttrial_intermediate_value_id INTEGER NOT NULL, 
        \ttrial_id INTEGER NOT NULL, 
        \tstep INTEGER NOT NULL, 
        \tintermediate_value FLOAT, 
        \tintermediate_value_type VARCHAR(7) NOT NULL, 
        \tPRIMARY KEY (trial_intermediate_value_id), 
        \tUNIQUE (trial_id, step), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE trial_heartbeats (
        \ttrial_heartbeat_id INTEGER NOT NULL, 
        \ttrial_id INTEGER NOT NULL, 
        \theartbeat DATETIME NOT NULL, 
        \tPRIMARY KEY (trial_heartbeat_id), 
        \tUNIQUE (trial_id), 
        \tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)
        )
        """,
        """
        CREATE TABLE alembic_version (
        \tversion_num VARCHAR(32) NOT NULL, 
        \tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
        )
        """,
    ]
}
