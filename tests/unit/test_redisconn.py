"""redis+sentinel:// URLs, pure: parsing, the role credentials put in, and the credential-free location the RM
hands its AMs (clients are made, never connected)."""

from __future__ import annotations

import doctest
import time

import pytest
import redis
import redis.sentinel

from miniyarn import redisconn
from miniyarn.redisconn import SentinelURL, client_for, location, ride_out
from miniyarn.security.credentials import with_user, without_user


def test_doctests() -> None:
    assert doctest.testmod(redisconn).failed == 0


def test_parse_every_part() -> None:
    u = SentinelURL.parse("rediss+sentinel://rm:p%40ss@[::1]:26380,sentinel-b,10.0.0.3:5000/mymaster/7"
                          "?sentinel_password=sp&sentinel_username=su")
    assert u == SentinelURL(sentinels=(("::1", 26380), ("sentinel-b", 26379), ("10.0.0.3", 5000)),
                            service="mymaster", db=7, username="rm", password="p@ss", sentinel_username="su",
                            sentinel_password="sp", ssl=True)


@pytest.mark.parametrize(("url", "message"), [
    ("redis+sentinel://a:x/m", "Sentinel port 'x' is not a number"),
    ("redis+sentinel://a:1,,b:2/m", "has an empty Sentinel address"),
    ("redis+sentinel://a:1/m/zero", "database 'zero' is not a number"),
    ("redis+sentinel://u:secret@a:1/?sentinel_password=hidden", "names no master"),
])
def test_bad_urls_say_what_and_show_no_secret(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as e:
        SentinelURL.parse(url)
    assert "secret" not in str(e.value) and "hidden" not in str(e.value)


def test_role_credentials_go_in_and_out_keeping_every_sentinel() -> None:
    url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
    with_nm = with_user(url, "nm", "pw/1")
    assert with_nm == "redis+sentinel://nm:pw%2F1@10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
    parsed = SentinelURL.parse(with_nm)
    assert parsed is not None and (parsed.username, parsed.password) == ("nm", "pw/1")
    assert len(parsed.sentinels) == 2
    assert without_user(with_nm) == url
    # A plain URL is unchanged by the rewrite of with_user (host and port as written).
    assert with_user("redis://old:x@redis:6379/3", "rm", "p") == "redis://rm:p@redis:6379/3"


def test_location_is_the_url_without_credentials() -> None:
    url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26400/mymaster/2"
    client = client_for(with_user(url, "rm", "pw"), socket_timeout=1)
    assert location(client) == url
    assert redisconn.where(client) == "master 'mymaster' of the Sentinels at 10.0.0.1:26379,10.0.0.2:26400"
    assert location(client_for("rediss://rm:pw@10.0.0.9:6380/1")) == "rediss://10.0.0.9:6380/1"
    tls = client_for("rediss+sentinel://10.0.0.1:26379/m")
    assert location(tls) == "rediss+sentinel://10.0.0.1:26379/m/0"


def test_connect_reports_a_malformed_url_as_a_connection_error() -> None:
    with pytest.raises(ConnectionError, match=r"Bad Redis URL redis\+sentinel://a:1/: .*names no master"):
        redisconn.connect("redis+sentinel://nm:pw@a:1/?sentinel_password=x")


class Flaky:
    """A call that fails with `errors` in turn, then answers "OK"; counts its tries."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.tries = 0

    def __call__(self) -> str:
        self.tries += 1
        if self.errors:
            raise self.errors.pop(0)
        return "OK"


def test_ride_out_retries_connection_errors_and_timeouts_within_the_wait() -> None:
    call = Flaky(redis.ConnectionError("Connection refused"), redis.sentinel.MasterNotFoundError("No master"),
                 redis.TimeoutError("Timeout reading"))
    assert ride_out("GET blob", call, max_wait_s=5, interval_s=0.01) == "OK" and call.tries == 4


def test_ride_out_gives_up_at_the_deadline_with_the_last_error() -> None:
    call = Flaky(*(redis.ConnectionError(f"refused {i}") for i in range(1000)))
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError, match=r"^refused \d+$"):
        ride_out("GET blob", call, max_wait_s=0.2, interval_s=0.02)
    assert 0.2 <= time.monotonic() - started < 1 and call.tries > 3


def test_ride_out_retries_a_refused_password_only_within_the_auth_grace() -> None:
    assert ride_out("RPUSH", Flaky(redis.AuthenticationError("WRONGPASS")), max_wait_s=5, interval_s=0.01,
                    auth_grace_s=1) == "OK"
    call = Flaky(redis.AuthenticationError("WRONGPASS"), redis.AuthenticationError("WRONGPASS"))
    with pytest.raises(redis.AuthenticationError):
        ride_out("RPUSH", call, max_wait_s=5, interval_s=0.01)
    assert call.tries == 1


def test_ride_out_stops_when_told_and_never_retries_other_errors() -> None:
    call = Flaky(redis.ConnectionError("down"), redis.ConnectionError("down"))
    with pytest.raises(redis.ConnectionError):
        ride_out("GET", call, max_wait_s=5, interval_s=0.01, give_up=lambda: call.tries >= 1)
    assert call.tries == 1
    wrong = Flaky(redis.ResponseError("WRONGTYPE"))
    with pytest.raises(redis.ResponseError):
        ride_out("GET", wrong, max_wait_s=5, interval_s=0.01)
    assert wrong.tries == 1


class Unanswered(TimeoutError):
    """A caller's own protocol timing out (as rpc.RMUnavailableError): no Redis error."""


def test_ride_out_waits_through_the_outages_it_is_given() -> None:
    call = Flaky(Unanswered("no answer"), redis.ConnectionError("refused"), Unanswered("no answer"))
    assert ride_out("allocate", call, max_wait_s=5, interval_s=0.01,
                    outages=(Unanswered, *redisconn.OUTAGES)) == "OK" and call.tries == 4
    # Without it in `outages` the caller's timeout is not an outage: raised at the first try.
    once = Flaky(Unanswered("no answer"))
    with pytest.raises(Unanswered):
        ride_out("allocate", once, max_wait_s=5, interval_s=0.01)
    assert once.tries == 1


class Gone(Exception):
    pass


def test_ride_out_raises_a_refusal_past_the_grace_as_refused_makes_it() -> None:
    call = Flaky(*(redis.AuthenticationError("WRONGPASS") for _ in range(1000)))
    started = time.monotonic()
    with pytest.raises(Gone, match=r"^gone: WRONGPASS$") as err:
        ride_out("allocate", call, max_wait_s=5, interval_s=0.02, auth_grace_s=0.2,
                 refused=lambda e: Gone(f"gone: {e}"))
    assert isinstance(err.value.__cause__, redis.AuthenticationError)
    assert 0.2 <= time.monotonic() - started < 1 and call.tries > 3
    # A refusal that ends within the grace is ridden out; an outage past the deadline stays itself.
    assert ride_out("allocate", Flaky(redis.AuthenticationError("WRONGPASS")), max_wait_s=5, interval_s=0.01,
                    auth_grace_s=1, refused=lambda e: Gone(str(e))) == "OK"
    with pytest.raises(redis.ConnectionError, match=r"^down$"):
        ride_out("allocate", Flaky(*(redis.ConnectionError("down") for _ in range(1000))), max_wait_s=0.1,
                 interval_s=0.02, refused=lambda e: Gone(str(e)))
