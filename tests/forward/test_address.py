import pytest

from shipper.errors import ConfigError
from shipper.forward.address import Address, parse_address


@pytest.mark.parametrize(
    "url,expected",
    [
        ("tcp://fluentd:24225", Address("tcp", "fluentd", 24225)),
        ("tcp://fluentd", Address("tcp", "fluentd", 24224)),
        ("fluentd:24225", Address("tcp", "fluentd", 24225)),
        ("tls://logs.example.com:24284", Address("tls", "logs.example.com", 24284)),
        ("tcp://[::1]:24224", Address("tcp", "::1", 24224)),
        ("unix:///run/fluent.sock", Address("unix", path="/run/fluent.sock")),
        ("/run/fluent.sock", Address("unix", path="/run/fluent.sock")),
    ],
)
def test_urls_parse_to_addresses(url, expected):
    assert parse_address(url) == expected


@pytest.mark.parametrize("address,url", [
    (Address("tcp", "::1", 1), "tcp://[::1]:1"),
    (Address("unix", path="/s"), "unix:///s"),
])
def test_addresses_print_as_urls(address, url):
    assert str(address) == url


@pytest.mark.parametrize("url,fragment", [
    ("http://x:1", "scheme must be one of"),
    ("tcp://x:99999", "port must be a number"),
    ("tcp://:24224", "has no host"),
    ("unix://", "has no socket path"),
])
def test_bad_urls_say_what_is_wrong(url, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_address(url)
