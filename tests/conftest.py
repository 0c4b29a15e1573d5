"""Test settings shared by every layer's tests."""

import atexit
import os
import shutil
import signal
import tempfile

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Tests send Ctrl-C (SIGINT) to the processes they start. A shell that starts the suite in
# the background ignores SIGINT for it, and the processes it starts inherit that (Python
# then installs no KeyboardInterrupt handler): restore the default, so the suite behaves
# the same however it is launched.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# What labrun keeps between runs (the tips a run left on a robot) goes to a folder of the
# suite's own, never to the user's: each test's robots are its own.
os.environ["LABRUN_STATE_DIR"] = tempfile.mkdtemp(prefix="labrun-state-")
atexit.register(shutil.rmtree, os.environ["LABRUN_STATE_DIR"], True)
