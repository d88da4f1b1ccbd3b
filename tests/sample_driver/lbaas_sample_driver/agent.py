"""The sample provider agent: proves the sockets are reachable, then waits to be told to exit."""
import os

from lbaas_sample_driver.library import library


def sample_agent(exit_event):
    """Run until exit_event is set; write this process's pid to $LBAAS_SAMPLE_AGENT_PID_FILE."""
    library()  # waits for the driver agent's sockets
    path = os.environ.get("LBAAS_SAMPLE_AGENT_PID_FILE")
    if path:
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, path)
    exit_event.wait()
