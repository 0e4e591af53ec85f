// Studies: hyperparameter studies (search spaces, TPE sampling, median pruning) stored in Optuna's SQLite schema.
