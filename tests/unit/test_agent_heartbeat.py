"""Heartbeat stats parsing, counter deltas and message building (lbaas/agent/heartbeat.py).

STAT is `show stat` as HAProxy 2.6.12 (/usr/sbin/haproxy) answered it for two listeners
(HTTP and TCP), a non-UUID `stats` frontend, and members UP, DOWN, no check, MAINT and DRAIN.
"""
import socket

import pytest

from lbaas.agent import heartbeat, wire

L_HTTP = "3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01"
L_TCP = "5b2f0c11-1111-4222-8333-944455556601"
P_HTTP = "7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:" + L_HTTP
P_TCP = "9c8b7a6d-0000-4111-8222-933344445501:" + L_TCP
M = "0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee000"
KEY = "insecure-test-key"

STAT = """\
# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,FRONTEND,,,0,1,100,6,622,3220,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,6,0,6,,,,0,5,0,1,0,0,,6,6,6,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,6,6,6,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,6,6,718,3226,0,0,
5b2f0c11-1111-4222-8333-944455556601,FRONTEND,,,0,1,100,1,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,3,0,,,,0,1,0,1,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,1,1,1,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
stats,FRONTEND,,,0,0,9976,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,4,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,0,0,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0001,0,0,0,1,,2,206,1088,,0,,0,0,0,0,UP,1,1,0,1,1,1,2,,1,5,1,,2,,2,2,,2,L4OK,,0,0,2,0,0,0,0,,,,2,0,0,,,,,0,,,0,0,0,0,,,,Layer4 check passed,,2,3,4,,,,127.0.0.1:18092,,http,,,,,,,,0,2,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0002,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,3,3,,1,5,2,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,1,0,,,,127.0.0.1:18099,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0003,0,0,0,1,,4,416,2132,,0,,0,0,0,0,no check,1,1,0,,,3,,,1,5,3,,4,,2,4,,4,,,,0,3,0,1,0,0,,,,4,0,0,,,,,0,,,0,1,1,1,,,,,,,,,,,,127.0.0.1:18092,,http,,,,,,,,0,4,0,,,0,,0,1,2,2,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0004,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,3,3,,1,5,4,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18092,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0005,0,0,0,0,,0,0,0,,0,,0,0,0,0,DRAIN,1,1,0,0,0,0,0,,1,5,5,,0,,2,0,,0,L4OK,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer4 check passed,,2,3,4,,,,127.0.0.1:18092,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
7a1c0f3e-2b4d-4e8a-9c6f-1d2e3f4a5b01:3d9e1a52-8c1f-4c6e-9d1e-6f0b8e2a1c01,BACKEND,0,0,0,1,10,6,622,3220,0,0,,0,0,0,0,UP,2,2,0,,0,3,0,,1,5,0,,6,,1,6,,6,,,,0,5,0,1,0,0,,,,6,0,0,0,0,0,0,0,,,0,1,1,1,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,6,0,0,0,,,0,1,2,2,0,,,,,2,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,6,6,3245,604,0,0,
9c8b7a6d-0000-4111-8222-933344445501:5b2f0c11-1111-4222-8333-944455556601,0f1e2d3c-aaaa-4bbb-8ccc-ddddeeee0006,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,2,2,,1,6,1,,0,,2,0,,0,L4CON,,0,,,,,,,,,,,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,1,0,,,,127.0.0.1:18099,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
9c8b7a6d-0000-4111-8222-933344445501:5b2f0c11-1111-4222-8333-944455556601,BACKEND,0,0,0,1,10,1,0,0,0,0,,1,0,0,0,DOWN,0,0,0,,1,2,2,,1,6,0,,0,,1,1,,1,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,0,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,

"""

INFO = """\
Name: HAProxy
Version: 2.6.12-1+deb12u4
Release_date: 2026/10/17
Nbthread: 2
Nbproc: 1
Process_num: 1
Pid: 10961
Uptime: 0d 0h00m03s
"""


def test_parse_stat_reads_uuid_frontends_as_listeners():
    listeners, _ = heartbeat.parse_stat(STAT)
    assert set(listeners) == {L_HTTP, L_TCP}   # the `stats` frontend is not a listener
    assert listeners[L_HTTP] == {"status": "OPEN", "conns": 0,
                                 "counters": {"tx": 3220, "rx": 622, "totconns": 6, "ereq": 0}}


def test_parse_stat_reads_backends_and_member_statuses_as_haproxy_shows_them():
    _, pools = heartbeat.parse_stat(STAT)
    assert pools[P_HTTP] == {"status": "UP", "members": {
        M + "1": "UP", M + "2": "DOWN", M + "3": "no check", M + "4": "MAINT", M + "5": "DRAIN"}}
    assert pools[P_TCP] == {"status": "DOWN", "members": {M + "6": "DOWN"}}


def test_parse_stat_refuses_text_that_is_not_csv_stats():
    with pytest.raises(ValueError):
        heartbeat.parse_stat("Unknown command.\n")


def test_parse_info_reads_the_worker_pid():
    assert heartbeat.parse_info(INFO)["Pid"] == "10961"


def test_deltas_subtract_the_previous_counters():
    assert heartbeat.deltas({"tx": 50, "rx": 7}, {"tx": 20, "rx": 7}) == {"tx": 30, "rx": 0}


def test_a_counter_that_went_down_counts_from_zero():
    assert heartbeat.deltas({"tx": 5, "rx": 9}, {"tx": 100, "rx": 4}) == {"tx": 5, "rx": 5}


def test_without_previous_counters_the_delta_is_the_value():
    assert heartbeat.deltas({"totconns": 3}, None) == {"totconns": 3}


@pytest.mark.parametrize("text,expected", [("10.0.0.1:5555", ("10.0.0.1", 5555)),
                                           ("[fd00::1]:5555", ("fd00::1", 5555))])
def test_parse_controller(text, expected):
    assert heartbeat.parse_controller(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.1", "fd00::1:5555", "[10.0.0.1]:5555",
                                  "host:5555", "10.0.0.1:0", "10.0.0.1:99999"])
def test_parse_controller_refuses(text):
    with pytest.raises(ValueError):
        heartbeat.parse_controller(text)


def _scale(text, factor):
    """STAT with the HTTP listener's bin/bout/stot multiplied by factor."""
    out = []
    for line in text.splitlines():
        fields = line.split(",")
        if fields[:2] == [L_HTTP, "FRONTEND"]:
            fields[7:10] = [str(int(v) * factor) for v in fields[7:10]]
        out.append(",".join(fields))
    return "\n".join(out) + "\n"


class FakeManager:
    """The HAProxyManager surface the sender uses, answering canned text."""

    def __init__(self):
        self.stat, self.pid_value, self.broken = {"lb1": STAT}, {"lb1": "100"}, set()

    def lb_ids(self):
        return sorted(self.stat)

    def pid(self, lb_id):
        return 1 if self.pid_value.get(lb_id) else None

    def stats_command(self, lb_id, command):
        if lb_id in self.broken:
            raise ConnectionRefusedError("no stats socket")
        if command == "show info":
            return f"Name: HAProxy\nPid: {self.pid_value[lb_id]}\n"
        return self.stat[lb_id]


@pytest.fixture
def sender():
    return heartbeat.HeartbeatSender(FakeManager(), "amp-1", KEY, ["127.0.0.1:9"], 10)


def test_first_message_reports_everything_since_start(sender):
    message = sender.collect()
    assert (message["id"], message["seq"], message["ver"]) == ("amp-1", 0, 3)
    assert message["listeners"][L_HTTP] == {"status": "OPEN", "stats": {
        "tx": 3220, "rx": 622, "totconns": 6, "ereq": 0, "conns": 0}}
    assert set(message["pools"]) == {P_HTTP, P_TCP}


def test_next_message_reports_deltas_and_increments_seq(sender):
    sender.collect()
    sender.manager.stat["lb1"] = _scale(STAT, 3)
    message = sender.collect()
    assert message["seq"] == 1
    assert message["listeners"][L_HTTP]["stats"] == {
        "tx": 6440, "rx": 1244, "totconns": 12, "ereq": 0, "conns": 0}
    assert message["listeners"][L_TCP]["stats"]["totconns"] == 0


def test_a_new_worker_pid_restarts_the_deltas_from_zero(sender):
    sender.manager.stat["lb1"] = _scale(STAT, 2)
    sender.collect()
    sender.manager.stat["lb1"], sender.manager.pid_value["lb1"] = _scale(STAT, 3), "200"
    stats = sender.collect()["listeners"][L_HTTP]["stats"]
    assert (stats["tx"], stats["totconns"]) == (3220 * 3, 18)


def test_counts_of_a_replaced_worker_are_banked_at_the_reload(sender):
    sender.collect()                                        # baseline: 6 connections
    sender.manager.stat["lb1"] = _scale(STAT, 2)            # the old worker counts 6 more
    sender.checkpoint("lb1")                                # the API banks them, then reloads
    sender.manager.stat["lb1"], sender.manager.pid_value["lb1"] = STAT, "200"   # new: 6
    assert sender.collect()["listeners"][L_HTTP]["stats"]["totconns"] == 6 + 6
    assert sender.collect()["listeners"][L_HTTP]["stats"]["totconns"] == 0   # banked once


def test_a_broken_lb_is_skipped_and_keeps_its_baseline(sender):
    sender.manager.stat["lb2"] = STAT.replace(L_HTTP, "11111111-2222-4333-8444-555566667777")
    sender.manager.pid_value["lb2"] = "300"
    sender.collect()
    sender.manager.broken.add("lb1")
    assert L_HTTP not in sender.collect()["listeners"]
    sender.manager.broken.clear()
    sender.manager.stat["lb1"] = _scale(STAT, 2)
    assert sender.collect()["listeners"][L_HTTP]["stats"]["totconns"] == 6


def test_a_stopped_lb_is_absent(sender):
    sender.manager.pid_value["lb1"] = None
    assert sender.collect()["listeners"] == {}


def test_state_file_keeps_seq_and_baseline_across_restarts(tmp_path):
    path = str(tmp_path / "hb.json")
    first = heartbeat.HeartbeatSender(FakeManager(), "amp-1", KEY, ["127.0.0.1:9"], 10,
                                      state_path=path)
    first.collect()
    again = heartbeat.HeartbeatSender(FakeManager(), "amp-1", KEY, ["127.0.0.1:9"], 10,
                                      state_path=path)
    message = again.collect()
    assert message["seq"] == 1 and message["listeners"][L_HTTP]["stats"]["totconns"] == 0


def test_send_once_signs_and_sends_each_heartbeat_to_every_controller():
    receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for r in receivers:
            r.bind(("127.0.0.1", 0))
            r.settimeout(5)
        sender = heartbeat.HeartbeatSender(
            FakeManager(), "amp-1", KEY,
            [f"127.0.0.1:{r.getsockname()[1]}" for r in receivers], 10)
        for _ in range(3):
            sender.send_once()
        for r in receivers:
            assert [wire.decode(r.recv(65536), KEY)["seq"] for _ in range(3)] == [0, 1, 2]
        assert sender.snapshot()["seq"] == 2
    finally:
        for r in receivers:
            r.close()


def _args(tmp_path, **over):
    import argparse
    key = tmp_path / "key"
    key.write_text("  secret-key \n")
    values = {"heartbeat_key_file": str(key), "controller": ["127.0.0.1:5555"],
              "amphora_id": "amp-1", "heartbeat_interval": 2.5}
    values.update(over)
    return argparse.Namespace(**values)


class _Base:
    base_dir = "/nonexistent"


def test_cli_without_key_file_or_controller_sends_no_heartbeats(tmp_path):
    from lbaas.agent import server
    assert server.heartbeat_sender(_args(tmp_path, heartbeat_key_file=None), _Base()) is None
    assert server.heartbeat_sender(_args(tmp_path, controller=[]), _Base()) is None


def test_cli_reads_the_key_stripped_and_the_controllers(tmp_path):
    from lbaas.agent import server
    sender = server.heartbeat_sender(_args(tmp_path), _Base())
    assert (sender.key, sender.controllers, sender.interval) == \
        ("secret-key", [("127.0.0.1", 5555)], 2.5)


def test_cli_refuses_a_bad_controller(tmp_path):
    from lbaas.agent import server
    with pytest.raises(SystemExit):
        server.heartbeat_sender(_args(tmp_path, controller=["nowhere"]), _Base())
