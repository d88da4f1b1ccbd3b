"""Nova's and Glance's refusals as ComputeErrors: what the user may see, what the operator needs.

Nova says why a boot failed in two places: the answer to POST /servers (a missing image or
flavor: 400, a quota: 403), and, once the server was accepted, the server's `fault` when
it went ERROR (no valid host: the scheduler found no hypervisor with room). The user sees a
short reason; the operator's message carries Nova's own words.
"""
from lbaas.drivers.amphora.compute import ComputeError

IMAGE_MISSING = "The amphora image was not found."
FLAVOR_MISSING = "The amphora compute flavor was not found."
QUOTA = "The compute quota of the load-balancing service is exhausted."
NO_HOST = "No compute host could take the amphora."
TIMEOUT = "The amphora did not boot in time."
UNREACHABLE = "The compute service (Nova) could not be reached."
FAILED = "The amphora could not be booted."


class BootError(ComputeError):
    """An amphora server could not be booted (the server and its ports are removed)."""


def user_message(text, status=None):
    """The user's reason for a Nova refusal or fault (its message text and HTTP status)."""
    lowered = (text or "").lower()
    if "quota exceeded" in lowered or ("exceeds" in lowered and "quota" in lowered):
        return QUOTA
    if "no valid host" in lowered:
        return NO_HOST
    missing = any(words in lowered for words in ("not found", "not be found", "can not find",
                                                  "cannot find"))
    if "flavor" in lowered and missing:
        return FLAVOR_MISSING
    if "image" in lowered and missing:
        return IMAGE_MISSING
    if status is not None and status >= 500:
        return UNREACHABLE
    return FAILED


def from_sdk(what, exc):
    """A BootError for an openstacksdk exception raised while doing `what`."""
    status = getattr(exc, "status_code", None)
    details = getattr(exc, "details", None) or str(exc)
    return BootError(f"{what}: {status or type(exc).__name__} {details}",
                     user_message(details, status))


def from_fault(server_id, fault):
    """A BootError for a server Nova put into ERROR (its `fault`: code, message, details)."""
    fault = fault or {}
    message = fault.get("message") or "no fault recorded"
    return BootError(f"Nova server {server_id} went ERROR: {fault.get('code', '?')} {message}",
                     user_message(message))
