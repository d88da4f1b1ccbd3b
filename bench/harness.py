"""What every benchmark here shares: figures, CPU sampling, signals, the run's outcome, JSON."""
import contextlib
import json
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback

BENCH = pathlib.Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAIN_PID = os.getpid()


# --------------------------------------------------------------------------------------------
# Figures


def rounded(x, nd=3):
    """x as a float rounded to nd digits; None stays None."""
    return None if x is None else round(float(x), nd)


def percentile(values, q):
    """Linear-interpolated percentile (q in 0..100) of a list of numbers."""
    if not values:
        return None
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def stats(values, nd=4):
    """min/p50/max of a list of numbers, with the values themselves."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": rounded(min(values), nd),
            "p50": rounded(percentile(values, 50), nd), "max": rounded(max(values), nd),
            "values": [rounded(v, nd) for v in values]}


def log(msg):
    """One progress line on stderr (stdout carries the JSON)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def error_text(exc):
    """How a scenario's failure reads in the JSON: "Type: message"."""
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# CPU


def machine_busy():
    """Busy jiffies of the whole machine (all CPUs) from /proc/stat."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]  # everything but idle and iowait (guest is in user)


def proc_ticks(pids):
    """utime + stime (clock ticks) of these processes, all threads; gone pids count 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


class Busy:
    """Average cores busy on the whole machine during an interval, and the load average."""

    def __init__(self):
        self.t0, self.b0 = time.monotonic(), machine_busy()

    def stop(self):
        """{"machine_busy_cores", "loadavg_1m"} since this object was made."""
        dt = max(time.monotonic() - self.t0, 1e-6)
        return {"machine_busy_cores": rounded((machine_busy() - self.b0) / CLK_TCK / dt, 2),
                "loadavg_1m": rounded(os.getloadavg()[0], 2)}


def sample_midway(procs, duration, sample):
    """sample() once the processes have run half of `duration` (None if they ended first)."""
    deadline = time.monotonic() + duration / 2
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0))
            return None   # ended early: nothing to sample
        except subprocess.TimeoutExpired:
            pass
    return sample() if sample else None


# --------------------------------------------------------------------------------------------
# Scenarios and the run


def measured(fn, *args, deadline=None):
    """One scenario's entry: fn(*args)'s dict, or {"error": ...} when it raised (fail soft;
    Ctrl-C passes), plus its "seconds" and what the machine was doing ("machine")."""
    t0, busy = time.monotonic(), Busy()
    entry = {}
    try:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("time budget exhausted")
        entry.update(fn(*args))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # fail soft
        entry["error"] = error_text(exc)
        debug_traceback()
    entry["seconds"] = rounded(time.monotonic() - t0, 1)
    entry["machine"] = busy.stop()
    return entry


def debug_traceback():
    """Print the exception being handled when BENCH_DEBUG is set."""
    if os.environ.get("BENCH_DEBUG"):
        traceback.print_exc()


def _interrupt(signum, _frame):
    """Stop the benchmark (cleaning up) on a signal; a forked helper just exits.

    pyroute2 forks helper processes that inherit this handler and are ended with SIGTERM:
    raising there made the helper run the benchmark's clean-up, which removed the running
    benchmark's temporary directory (the "backend2.cfg: No such file" failures).
    """
    if os.getpid() != MAIN_PID:
        os._exit(0)
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_signals():
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt: every exit path cleans up."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # INT even if inherited ignored
        signal.signal(sig, _interrupt)


@contextlib.contextmanager
def shielded():
    """Ignore SIGINT and SIGTERM inside the block (a clean-up); their handlers come back after."""
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


class Outcome:
    """How a run ended: `interrupted` (a signal, Ctrl-C) or `fatal` (a set-up error), or None."""

    def __init__(self):
        self.interrupted = self.fatal = None


@contextlib.contextmanager
def guarded(cleanup, what="setup"):
    """Run the block; an interrupt or an error ends it and is kept in the yielded Outcome;
    cleanup() runs on every exit path, deaf to Ctrl-C and SIGTERM."""
    outcome = Outcome()
    try:
        yield outcome
    except KeyboardInterrupt as exc:
        outcome.interrupted = str(exc) or "KeyboardInterrupt"
        log(f"interrupted ({outcome.interrupted}); cleaning up")
    except Exception as exc:
        outcome.fatal = error_text(exc)
        log(f"{what} failed: {outcome.fatal}")
        debug_traceback()
    finally:
        with shielded():
            cleanup()


def remove_dir(path, keep_logs=False):
    """Remove a run's temporary directory, or say where its logs are kept."""
    if keep_logs:
        log(f"logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def run_meta(started, load_before=None, kernel=True):
    """The "meta" every result starts with: when, how long, on what machine and load."""
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": rounded(time.time() - started, 1),
            "host": platform.node(), "cpus": os.cpu_count()}
    if kernel:
        meta["kernel"] = platform.release()
    meta["python"] = platform.python_version()
    if load_before is not None:
        meta["loadavg_before"] = [rounded(x, 2) for x in load_before]
        meta["loadavg_after"] = [rounded(x, 2) for x in os.getloadavg()]
    return meta


def version_line(argv):
    """The first line a program prints on stdout (asked for its version)."""
    out = subprocess.run(argv, capture_output=True, text=True)
    return out.stdout.split("\n")[0]


def emit(result, output, interrupted=None, fatal=None, leftovers=None):
    """Note how the run ended in result["meta"], print it as JSON and write it to output."""
    if interrupted:
        result["meta"]["interrupted"] = interrupted
    if fatal:
        result["meta"]["fatal"] = fatal
    text = json.dumps(result, indent=2)
    print(text)
    out = pathlib.Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if leftovers:
        log(f"LEFT BEHIND: {leftovers}")


def finish(result, output, outcome, leftovers=None, failed=False):
    """emit() the result; -> the exit status: 130 when interrupted, 1 after a fatal error,
    with leftovers or a failed scenario, else 0."""
    emit(result, output, outcome.interrupted, outcome.fatal, leftovers)
    return 130 if outcome.interrupted else (1 if outcome.fatal or leftovers or failed else 0)


def cannot_run(name, reason):
    """Say on stderr why benchmark `name` cannot run here; -> its exit status, 2."""
    print(f"{name}: cannot run: {reason}", file=sys.stderr)
    return 2


def add_output_args(parser, filename):
    """--output (default bench/results/<filename>) and --keep-logs."""
    parser.add_argument("--output", default=str(RESULTS / filename))
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
