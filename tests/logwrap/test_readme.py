from pathlib import Path

from shipper.logwrap import option_table

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_lists_every_logwrap_option_with_its_environment_variable():
    text = README.read_text()
    table = text.split("<!-- logwrap options: start -->\n", 1)[1].split("<!-- logwrap options: end -->", 1)[0]
    assert table == option_table()
