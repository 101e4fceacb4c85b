"""Bad flags give one line naming the problem and a sysexits status, never a traceback."""

import pytest
from click.testing import CliRunner

from shipper.cli import main


@pytest.mark.parametrize("args,status,message", [
    (["send", "--to", "http://x:1"], 64, "scheme must be one of tcp, tls, unix"),
    (["send", "--to", "tcp://x:1", "--tls-ca", "ca.pem"], 64, "TLS options need a tls:// address"),
    (["send", "--mode", "forward", "--compress", "gzip"], 64, "only in packed mode"),
    (["receive", "--user", "ann:pw"], 64, "--user needs --shared-key"),
    (["receive", "--shared-key", "k", "--user", "ann"], 64, "write NAME:PASSWORD"),
    (["receive", "--socket-mode", "rw"], 64, "not an octal mode"),
    (["receive", "--tls-cert", "c.pem"], 64, "needs both --tls-cert and --tls-key"),
    (["receive", "--listen", "tls://127.0.0.1:0"], 64, "needs --tls-cert and --tls-key"),
])
def test_bad_configuration_is_one_line_with_status_64(args, status, message):
    result = CliRunner().invoke(main, args, input="")
    assert result.exit_code == status and isinstance(result.exception, SystemExit)
    assert message in result.output


def test_a_malformed_size_is_rejected_by_the_parser():
    result = CliRunner().invoke(main, ["send", "--batch-bytes", "lots"])
    assert result.exit_code == 2 and "is not a size like 65536, 64k or 32MiB" in result.output


def test_sizes_accept_binary_units():
    from shipper.cli import ByteSize

    assert [ByteSize().convert(v, None, None) for v in ("512", "64k", "32MiB", "1G")] == [
        512, 65536, 32 * 1024**2, 1024**3]
