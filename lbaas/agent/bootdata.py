"""What a VM amphora receives at boot: one JSON document, its user data.

Standard library only: the image's boot step imports it without the controller's dependencies.
The controller (a compute backend that boots servers) encodes it; the amphora reads it from
its config drive (`openstack/latest/user_data`) and starts its agent from it. It carries the
agent's secrets (server certificate and key, heartbeat key): user data, never server metadata,
which any user of the project can read back through Nova's API.

Document (UTF-8 JSON)::

    {"format": "lbaas-amphora-boot", "version": 1,
     "amphora_id": <str>,
     "files": {<relative path>: <base64 of the file's bytes>},   # ca.pem, server.pem, ...
     "agent": {"port": <int 1..65535>,
               "controllers": [<"ip:port"> ...],                # where heartbeats go
               "heartbeat_interval": <float seconds > 0>}}

Limits (the document crosses a trust boundary in both directions: decode raises
BootDataError, never another exception): MAX_BYTES encoded (Nova refuses user data past
65,535 bytes of base64, so 49,152 raw bytes is the most that fits), at most MAX_FILES files,
paths relative without "..", at most MAX_CONTROLLERS controllers.
"""
import base64
import binascii
import dataclasses
import json
import math
import posixpath

FORMAT = "lbaas-amphora-boot"
VERSION = 1
MAX_BYTES = 49152
MAX_FILES = 16
MAX_PATH = 255
MAX_CONTROLLERS = 32
MAX_ADDRESS = 64


class BootDataError(ValueError):
    """The boot document is malformed, oversized or of another format."""


@dataclasses.dataclass(frozen=True)
class BootData:
    """The decoded boot document."""

    amphora_id: str
    files: dict
    port: int
    controllers: tuple
    heartbeat_interval: float


def _check_path(path):
    """`path` if it is a safe relative file path, else BootDataError."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise BootDataError("a file path is empty, not a string or too long")
    norm = posixpath.normpath(path)
    if norm != path or path.startswith("/") or norm == ".." or norm.startswith("../") \
            or "\x00" in path:
        raise BootDataError(f"file path {path!r} is not a plain relative path")
    return path


def encode(amphora_id, files, port, controllers, heartbeat_interval):
    """The boot document (bytes) for one amphora; BootDataError when it would not fit."""
    doc = {"format": FORMAT, "version": VERSION, "amphora_id": amphora_id,
           "files": {_check_path(p): base64.b64encode(data).decode("ascii")
                     for p, data in sorted(files.items())},
           "agent": {"port": port, "controllers": list(controllers),
                     "heartbeat_interval": heartbeat_interval}}
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    decode(data)   # what the amphora will refuse is refused here, before a server boots
    return data


def decode(data):
    """The BootData of a document (bytes); BootDataError for anything else."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_BYTES:
        raise BootDataError(f"boot data is not bytes or exceeds {MAX_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BootDataError(f"boot data is not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BootDataError(f"boot data is not of format {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise BootDataError(f"boot data version {doc.get('version')!r} is not {VERSION}")
    amphora_id, files, agent = doc.get("amphora_id"), doc.get("files"), doc.get("agent")
    if not isinstance(amphora_id, str) or not 0 < len(amphora_id) <= 64:
        raise BootDataError("amphora_id is not a string of 1..64 characters")
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        raise BootDataError(f"files is not an object of at most {MAX_FILES} entries")
    decoded = {}
    for path, text in files.items():
        if not isinstance(text, str):
            raise BootDataError(f"file {path!r} is not base64 text")
        try:
            decoded[_check_path(path)] = base64.b64decode(text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise BootDataError(f"file {path!r} is not base64 text") from None
    if not isinstance(agent, dict):
        raise BootDataError("agent is not an object")
    port, controllers = agent.get("port"), agent.get("controllers")
    interval = agent.get("heartbeat_interval")
    if type(port) is not int or not 0 < port < 65536:
        raise BootDataError("agent.port is not an integer in 1..65535")
    if not isinstance(controllers, list) or len(controllers) > MAX_CONTROLLERS or not all(
            isinstance(c, str) and 0 < len(c) <= MAX_ADDRESS for c in controllers):
        raise BootDataError(f"agent.controllers is not a list of at most {MAX_CONTROLLERS} "
                            "addresses")
    if type(interval) not in (int, float) or not math.isfinite(interval) or interval <= 0:
        raise BootDataError("agent.heartbeat_interval is not a positive number")
    return BootData(amphora_id, decoded, port, tuple(controllers), float(interval))
