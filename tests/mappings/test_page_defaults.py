"""The web SDK's default properties, shared by the client and the dump converter."""

from ga_ee_bridge.mappings.page_defaults import page_properties

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def test_location_then_user_agent_families():
    assert list(page_properties("https://shop.example/p/1", CHROME).items()) == [
        ("location", "https://shop.example/p/1"), ("os", "Windows"), ("browser", "Chrome"),
        ("device", "Other"),
    ]
    assert page_properties(None, IPHONE) == {"os": "iOS", "browser": "Mobile Safari",
                                             "device": "iPhone"}


def test_unknown_agent_reads_other_and_absent_values_are_left_out():
    assert page_properties("", "curl/8.0")["device"] == "Other"
    assert page_properties(None, None) == {}
    assert page_properties(5, ["ua"]) == {}
