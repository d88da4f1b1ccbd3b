"""Lease fencing on the agent (lbaas.agent.fence): the highest generation seen per load
balancer, kept across restarts, bounded, and a clear 400 or 409 for what does not pass."""
import pytest

from lbaas.agent import wire
from lbaas.agent.api import create_app
from lbaas.agent.fence import Fenced, Fences

LISTENERS = "/1.0/listeners"


@pytest.mark.parametrize("value", [
    "", "lb", "lb ", " 1", "lb 0", "lb -1", "lb 1.5", "lb 0x10", "lb 1 2", "lb \u0663",
    f"lb {2 ** 63}", "x" * 200 + " 1", "lb 1" + " " * 200, None, 7])
def test_garbage_fence_values_are_refused(value):
    with pytest.raises(ValueError):
        wire.parse_fence(value)


def test_a_fence_value_round_trips():
    assert wire.parse_fence(wire.format_fence("lb-1", 42)) == ("lb-1", 42)


def test_older_generations_are_refused_and_the_record_survives_a_restart(tmp_path):
    fences = Fences(str(tmp_path))
    fences.admit("lb 2")
    fences.admit("lb 2")                     # the holder itself, again
    with pytest.raises(Fenced, match="generation 1 is older than generation 2"):
        fences.admit("lb 1")
    fences.admit("other 1")                  # load balancers are fenced apart
    assert Fences(str(tmp_path)).snapshot() == {"lb": 2, "other": 1}


def test_a_damaged_record_is_read_as_empty(tmp_path):
    (tmp_path / "fences.json").write_text('{"lb": "x", "ok": 3')
    assert Fences(str(tmp_path)).snapshot() == {}
    (tmp_path / "fences.json").write_text('{"lb": "x", "ok": 3}')
    assert Fences(str(tmp_path)).snapshot() == {"ok": 3}


def test_the_record_is_bounded_lowest_generations_forgotten_first(tmp_path):
    fences = Fences(str(tmp_path))
    for i in range(wire.MAX_FENCES + 10):
        fences.admit(f"lb{i} {i + 1}")
    seen = fences.snapshot()
    assert len(seen) == wire.MAX_FENCES and "lb0" not in seen
    assert seen[f"lb{wire.MAX_FENCES + 9}"] == wire.MAX_FENCES + 10


@pytest.fixture
def client(tmp_path):
    return create_app(str(tmp_path / "base")).test_client()


def test_the_api_answers_409_to_a_superseded_holder_and_400_to_garbage(client):
    assert client.get(LISTENERS, headers={wire.FENCE_HEADER: "lb 5"}).status_code == 200
    refused = client.get(LISTENERS, headers={wire.FENCE_HEADER: "lb 4"})
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "Fenced"
    assert "generation 4" in refused.get_json()["details"]
    assert client.get(LISTENERS, headers={wire.FENCE_HEADER: "lb five"}).status_code == 400
    assert client.get(LISTENERS).status_code == 200          # no lease: not fenced
    assert client.get(LISTENERS, headers={wire.FENCE_HEADER: "lb 6"}).status_code == 200


PEM = b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"


def test_accepted_changes_are_journaled_with_their_fence_and_refused_ones_are_not(tmp_path):
    client = create_app(str(tmp_path / "base")).test_client()
    path = "/1.0/loadbalancer/lb/certificates/a.pem"
    assert client.put(path, data=PEM, headers={wire.FENCE_HEADER: "lb 3"}).status_code == 200
    assert client.put(path, data=PEM, headers={wire.FENCE_HEADER: "lb 2"}).status_code == 409
    assert client.put(path, data=b"not pem").status_code == 400
    assert client.put(path, data=PEM).status_code == 200       # no lease: journaled, no fence
    assert client.get(path, headers={wire.FENCE_HEADER: "lb 3"}).status_code == 200  # a read
    journal = Fences(str(tmp_path / "base")).journal()          # read back from the file
    assert [(e["method"], e["path"], e["status"], e["fence"]) for e in journal] == [
        ("PUT", path, 200, {"loadbalancer_id": "lb", "generation": 3}),
        ("PUT", path, 200, None)]
    assert journal[0]["at"] <= journal[1]["at"]


def test_the_journal_is_bounded_oldest_forgotten_first(tmp_path):
    fences = Fences(str(tmp_path))
    for i in range(wire.MAX_JOURNAL + 5):
        fences.record(f"lb {i + 1}", "PUT", f"/p{i}", 200)
    journal = Fences(str(tmp_path)).journal()
    assert len(journal) == wire.MAX_JOURNAL
    assert journal[0]["path"] == "/p5" and journal[-1]["fence"]["generation"] == \
        wire.MAX_JOURNAL + 5
