"""The boot document a VM amphora reads from its config drive: round trip and garbage."""
import ast
import base64
import json
import pathlib

import pytest

from lbaas.agent import bootdata

FILES = {"ca.pem": b"-----BEGIN CERTIFICATE-----\n", "server.pem": b"\x00\xffkey",
         "heartbeat.key": b"secret"}


def _doc(**overrides):
    doc = json.loads(bootdata.encode("amp-1", FILES, 9443, ["192.0.2.1:5555"], 10.0))
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_round_trip_keeps_every_byte():
    got = bootdata.decode(bootdata.encode("amp-1", FILES, 9443,
                                          ["192.0.2.1:5555", "[2001:db8::1]:5555"], 2.5))
    assert got == bootdata.BootData("amp-1", FILES, 9443,
                                    ("192.0.2.1:5555", "[2001:db8::1]:5555"), 2.5)


def test_agent_side_imports_only_the_standard_library():
    tree = ast.parse(pathlib.Path(bootdata.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names <= {"base64", "binascii", "dataclasses", "json", "math", "posixpath"}


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a",
                                  "a\x00b", "x" * 300])
def test_unsafe_paths_are_refused_on_both_sides(path):
    with pytest.raises(bootdata.BootDataError):
        bootdata.encode("amp-1", {path: b"x"}, 9443, [], 10.0)
    doc = json.loads(_doc())
    doc["files"] = {path: "eA=="}
    with pytest.raises(bootdata.BootDataError):
        bootdata.decode(json.dumps(doc).encode())


def test_a_document_that_would_not_fit_in_nova_user_data_is_refused_before_boot():
    with pytest.raises(bootdata.BootDataError, match="exceeds"):
        bootdata.encode("amp-1", {"big": b"x" * bootdata.MAX_BYTES}, 9443, [], 10.0)


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfe", b"[]", b"null", b"{}", b"[" * 100000,
    json.dumps({"format": "other", "version": 1}).encode(),
    _doc(version=2), _doc(version="1"), _doc(amphora_id=""), _doc(amphora_id=7),
    _doc(amphora_id="x" * 65), _doc(files=[]), _doc(files={"a": 1}), _doc(files={"a": "!!"}),
    _doc(files={"a": "é"}), _doc(files={str(i): "" for i in range(17)}),
    _doc(agent=None), _doc(agent={"port": 0, "controllers": [], "heartbeat_interval": 1}),
    _doc(agent={"port": True, "controllers": [], "heartbeat_interval": 1}),
    _doc(agent={"port": 65536, "controllers": [], "heartbeat_interval": 1}),
    _doc(agent={"port": 1, "controllers": "a:1", "heartbeat_interval": 1}),
    _doc(agent={"port": 1, "controllers": [7], "heartbeat_interval": 1}),
    _doc(agent={"port": 1, "controllers": ["a:1"] * 33, "heartbeat_interval": 1}),
    _doc(agent={"port": 1, "controllers": [], "heartbeat_interval": 0}),
    _doc(agent={"port": 1, "controllers": [], "heartbeat_interval": float("nan")}),
    _doc(agent={"port": 1, "controllers": [], "heartbeat_interval": "1"}),
    b" " * (bootdata.MAX_BYTES + 1), "text, not bytes",
])
def test_garbage_raises_boot_data_error_only(data):
    with pytest.raises(bootdata.BootDataError):
        bootdata.decode(data)


def test_base64_is_strict():
    doc = json.loads(_doc())
    doc["files"]["ca.pem"] = base64.b64encode(b"abc").decode() + "\n"
    with pytest.raises(bootdata.BootDataError):
        bootdata.decode(json.dumps(doc).encode())
