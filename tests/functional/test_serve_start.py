"""What `lbaas serve` says at start about where its providers come from."""
import pytest

from testbed.service import Service, free_port, venv_command

pytestmark = pytest.mark.functional


def test_a_configuration_file_is_named_as_what_decides_the_providers(tmp_path):
    """With a file, only what it enables is served: one line says so (a client hard-coding
    provider amphora otherwise meets "not enabled" unwarned). The file may be named before
    or after `serve`."""
    config = tmp_path / "lbaas.conf"
    config.write_text("[api_settings]\nenabled_provider_drivers = noop:The noop provider.\n")
    port = free_port()
    service = Service("lbaas serve (file)", [venv_command("lbaas"), "--config-file", str(config),
                                             "serve", "--port", str(port),
                                             "--state-path", str(tmp_path / "state")],
                      port, tmp_path / "serve.log")
    service.start()
    try:
        lines = [line for line in service.log_tail().splitlines() if "embedded:" in line]
    finally:
        service.stop()
    assert lines == [f"  embedded:  none: {config} enables only the providers it names"]
