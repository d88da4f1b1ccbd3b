"""The beats of a process's main loops: a loop that stops going round makes it unhealthy.

A loop registers with the longest time one round may take (`period`); each round it calls
beat(). It is stale once GRACE periods plus SLACK seconds pass without a beat (a thread
that died, a loop stuck on a lock). /healthcheck (lbaas.metrics.health) reports stale loops.
"""
import threading
import time

from lbaas.metrics import definitions

GRACE = 3
SLACK = 5.0
_lock = threading.Lock()
_loops = {}   # name -> Loop


class Loop:
    """One main loop's last beat."""

    def __init__(self, name, period, clock=time.monotonic):
        self.name, self.period, self.clock = name, float(period), clock
        self.last = clock()
        definitions.LOOP_BEAT.labels(name).set_to_current_time()

    def beat(self):
        """The loop went round once more."""
        self.last = self.clock()
        definitions.LOOP_BEAT.labels(self.name).set_to_current_time()

    def age(self):
        """Seconds since the last beat."""
        return self.clock() - self.last

    def stale(self):
        """Whether the loop missed its beats for longer than GRACE periods plus SLACK."""
        return self.age() > GRACE * self.period + SLACK


def register(name, period):
    """A Loop for `name` (a name fixed in the code: it is a label), watched from now on."""
    loop = Loop(name, period)
    with _lock:
        _loops[name] = loop
    return loop


def unregister(loop):
    """Stop watching a loop that ended on purpose."""
    with _lock:
        if _loops.get(loop.name) is loop:
            del _loops[loop.name]


def loops():
    """The watched loops, by name."""
    with _lock:
        return dict(_loops)
