"""What the table scripts of Benchmarks/compare share (standard library only): the line on other work
during each measurement, and formatting of values that may be missing."""


def print_loads(loads):
    """The `measure` lines of Benchmarks/measure-load.sh, one line for all measurements."""
    if loads:
        print("other work during each measurement, in cores busy (CPU time of all processes less the measured one's, "
              "per second; 1-minute load before it in brackets):")
        print("  " + ", ".join(f"{r['before']} {r.get('others_cores', float('nan')):.2f} ({r['load1']:.2f})" for r in loads))


def fmt(v, spec):
    """`v` formatted with `spec`, or a dash when missing."""
    return format(v, spec) if v is not None else "–"


def get(d, t, k):
    """Field `k` of the row of thread count `t` in `d`, or None."""
    return d[t][k] if t in d else None


def ratio(a, b):
    """a / b, or None when either is missing (or b is zero)."""
    return a / b if a is not None and b else None
