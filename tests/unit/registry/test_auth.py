"""mplat.registry.auth without a network: challenge parsing, token lifetimes, per-credential state.

Authentication against real registries and token servers is in tests/e2e/registry/test_auth.py.
"""

from __future__ import annotations

from mplat.registry.auth import AuthState, parse_challenges, token_lifetime


def test_parse_challenges_several_quoted_and_case_insensitive() -> None:
    header = (
        'Bearer REALM="https://auth.example.test/token",Service="registry.example.test",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope", '
        'Basic realm="say \\"hi\\", please"'
    )
    bearer, basic = parse_challenges(header)
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://auth.example.test/token",
        "service": "registry.example.test",
        "scope": "repository:a/b:pull,push repository:c:pull",
        "error": "insufficient_scope",
    }
    assert basic.scheme == "basic"
    assert basic.params == {"realm": 'say "hi", please'}
    assert [c.scheme for c in parse_challenges("Negotiate, bearer realm=http://x/t,service=s")] == [
        "negotiate",
        "bearer",
    ]
    assert parse_challenges("bearer realm=http://x/t,service=s")[0].params == {
        "realm": "http://x/t",
        "service": "s",
    }
    assert parse_challenges("") == []
    assert parse_challenges("   ") == []


def test_token_lifetime_and_auth_state_expiry() -> None:
    assert token_lifetime(None) == 60.0
    assert token_lifetime(5) == 60.0  # The spec's floor: never trust less than 60 s.
    assert token_lifetime(300) == 300.0
    assert token_lifetime(True) == 60.0
    assert token_lifetime("300") == 60.0
    assert token_lifetime(float("inf")) == 86400.0
    assert token_lifetime(float("nan")) == 60.0
    now = [1000.0]
    state = AuthState(credential=None, clock=lambda: now[0], scheme="bearer")
    scopes = frozenset({"repository:a:pull"})
    state.store_token(scopes, "tok-Q7Z", 100)
    assert state.header_for(scopes) == "Bearer tok-Q7Z"
    assert state.header_for(frozenset({"repository:a:pull,push"})) is None
    now[0] += 89  # Renewed early (90 % of the lifetime) so it cannot expire in flight.
    assert state.header_for(scopes) == "Bearer tok-Q7Z"
    now[0] += 2
    assert state.header_for(scopes) is None
    assert "tok-Q7Z" not in repr(state)
