#!/usr/bin/env python3
"""Checks that optuna reads a study clipcore's Studies layer wrote.

usage: check_optuna_study.py DB NAME EXPECTED_JSON [--continue N]
       check_optuna_study.py --create DB NAME

Loads study NAME from the SQLite file DB with ``optuna.load_study`` (optuna==5.1.0, see
Tools/requirements-test.txt) and compares, against EXPECTED_JSON (written by the Swift test): the
direction, best value, best params, and every trial's number, state, value, params (values and
Python types) and intermediate values. With ``--continue N`` it then runs N more trials from Python
on the same study (suggesting each param with the distribution the study stored, reporting one
intermediate value) so the Swift side can check it resumes a study Optuna continued.
Exits non-zero with a message naming the first difference.

With ``--create`` it instead writes a study from Python for the Swift side to resume (maximize;
x: float in [-5, 5], kind: categorical a/b, k: int in [1, 8] only for kind b, extra: categorical
p/q): six trials by TPE (trial 2 pruned, trial 3 failed), then one left RUNNING (``study.ask()``,
as a killed process leaves it) and one WAITING (``enqueue_trial``).
"""

import json
import math
import sys

import optuna


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return type(a) is type(b) and a == b


def fail(message):
    print("check_optuna_study: " + message, file=sys.stderr)
    sys.exit(1)


def create(db, name):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage="sqlite:///" + db, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))

    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        k = trial.suggest_int("k", 1, 8) if kind == "b" else 0
        trial.suggest_categorical("extra", ["p", "q"])
        value = -(x - 1) ** 2 + 0.1 * k
        trial.report(value / 2, 0)
        if trial.number == 2:
            raise optuna.TrialPruned()
        if trial.number == 3:
            raise ValueError("failed on purpose")
        return value

    study.optimize(objective, n_trials=6, catch=(ValueError,))
    study.ask()
    study.enqueue_trial({"x": 0.5})
    print(f"check_optuna_study: optuna {optuna.__version__} wrote study {name!r} with {len(study.trials)} trials")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--create"] and len(args) == 3:
        create(args[1], args[2])
        return
    n_more = 0
    if "--continue" in args:
        i = args.index("--continue")
        n_more = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        fail(__doc__.strip().splitlines()[2])
    db, name, expected_path = args
    with open(expected_path) as f:
        expected = json.load(f)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = "sqlite:///" + db
    study = optuna.load_study(study_name=name, storage=storage)

    direction = study.direction.name.lower()
    if direction != expected["direction"]:
        fail(f"direction {direction}, expected {expected['direction']}")
    if expected.get("best_value") is not None:
        if not same(study.best_value, expected["best_value"]):
            fail(f"best value {study.best_value!r}, expected {expected['best_value']!r}")
        if study.best_params.keys() != expected["best_params"].keys() or not all(
            same(study.best_params[k], v) for k, v in expected["best_params"].items()
        ):
            fail(f"best params {study.best_params!r}, expected {expected['best_params']!r}")

    trials = study.get_trials(deepcopy=False)
    if len(trials) != len(expected["trials"]):
        fail(f"{len(trials)} trials, expected {len(expected['trials'])}")
    for t, e in zip(trials, expected["trials"]):
        where = f"trial {t.number}"
        if t.number != e["number"]:
            fail(f"{where}: expected number {e['number']}")
        if t.state.name != e["state"]:
            fail(f"{where}: state {t.state.name}, expected {e['state']}")
        if (t.value is None) != (e["value"] is None) or (t.value is not None and not same(float(t.value), e["value"])):
            fail(f"{where}: value {t.value!r}, expected {e['value']!r}")
        if t.params.keys() != e["params"].keys():
            fail(f"{where}: params {sorted(t.params)}, expected {sorted(e['params'])}")
        for k, v in e["params"].items():
            if not same(t.params[k], v):
                fail(f"{where}: param {k} = {t.params[k]!r} ({type(t.params[k]).__name__}), expected {v!r} ({type(v).__name__})")
        got = {int(s): v for s, v in t.intermediate_values.items()}
        want = {int(s): v for s, v in e["intermediate_values"].items()}
        if got.keys() != want.keys() or not all(same(float(got[s]), float(want[s])) for s in want):
            fail(f"{where}: intermediate values {got!r}, expected {want!r}")
        if t.state.name == "FAIL" and e.get("fail_reason") is not None:
            if t.system_attrs.get("fail_reason") != e["fail_reason"]:
                fail(f"{where}: fail_reason {t.system_attrs.get('fail_reason')!r}, expected {e['fail_reason']!r}")
    print(f"check_optuna_study: optuna {optuna.__version__} read study {name!r}: {len(trials)} trials, "
          f"best value {study.best_value if expected.get('best_value') is not None else None!r}: as expected")

    if n_more:
        distributions = {}
        for t in trials:
            for k, d in t.distributions.items():
                distributions.setdefault(k, d)

        def objective(trial):
            total = 0.0
            for k, d in distributions.items():
                if isinstance(d, optuna.distributions.CategoricalDistribution):
                    v = trial.suggest_categorical(k, d.choices)
                    total += float(d.choices.index(v))
                elif isinstance(d, optuna.distributions.IntDistribution):
                    total += trial.suggest_int(k, d.low, d.high, step=d.step, log=d.log)
                else:
                    total += trial.suggest_float(k, d.low, d.high, step=d.step, log=d.log)
            trial.report(total, 0)
            return total

        study.optimize(objective, n_trials=n_more)
        print(f"check_optuna_study: ran {n_more} more trials from optuna; the study has {len(study.trials)}")


if __name__ == "__main__":
    main()
