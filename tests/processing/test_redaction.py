"""--redact-keys and --redact-pattern mask secrets in records, at any depth."""

from shipper.logs.redact import MASK, Redactor
from shipper.processing.redaction import BUILT_IN, Pattern, RedactKeys, RedactPatterns, luhn


def patterns(*names):
    return RedactPatterns([Pattern(name, BUILT_IN[name]) for name in names])


def test_redact_keys_masks_exactly_what_the_logging_setup_masks():
    record = {"user": {"password": "p", "X-Api-Key": "k", "name": "n"}, "db_password": "p", "items": [{"token": 1}]}
    assert RedactKeys(["password", "api_key", "token"])(record) == Redactor(["password", "api_key", "token"]).fields(record)
    assert RedactKeys(["password"])(record)["user"] == {"password": MASK, "X-Api-Key": "k", "name": "n"}


def test_a_card_number_that_passes_the_luhn_check_is_masked_in_the_message():
    assert patterns("credit-card")({"message": "paid with 4111 1111 1111 1111 ok"}) == {
        "message": f"paid with {MASK} ok"}


def test_digits_that_fail_the_luhn_check_are_left_alone():
    assert not luhn("4111111111111112")
    assert patterns("credit-card")({"message": "order 4111111111111112"}) == {"message": "order 4111111111111112"}


def test_a_card_number_with_dashes_is_masked():
    assert patterns("credit-card")({"card": "5500-0000-0000-0004"}) == {"card": MASK}


def test_a_bearer_token_is_masked_and_the_word_bearer_kept():
    record = {"headers": {"authorization": "Bearer eyJhbGciOi.J9.abc-_="}}
    assert patterns("bearer-token")(record) == {"headers": {"authorization": f"Bearer {MASK}"}}


def test_an_aws_access_key_id_is_masked_inside_a_list():
    assert patterns("aws-access-key")({"args": ["AKIAIOSFODNN7EXAMPLE", "x"]}) == {"args": [MASK, "x"]}


def test_a_pattern_with_a_secret_group_masks_only_that_group():
    import re
    redact = RedactPatterns([Pattern("session", re.compile(r"sid=(?P<secret>\w+)"))])
    assert redact({"message": "login sid=abc123 ok"}) == {"message": f"login sid={MASK} ok"}


def test_numbers_and_keys_are_left_alone():
    assert patterns("credit-card")({"4111111111111111": 4111111111111111}) == {"4111111111111111": 4111111111111111}


def test_a_pattern_that_can_match_nothing_masks_only_what_it_finds():
    import re
    redact = RedactPatterns([Pattern("x", re.compile(r"a*")), Pattern("y", re.compile(r"k=(?P<secret>\d*)"))])
    assert redact({"message": "hi aa k= k=1"}) == {"message": f"hi {MASK} k= k={MASK}"}
