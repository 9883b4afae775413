"""The Secret wrapper on its own: every way a value gets turned into text shows `***` (and where
it came from, which is safe), equality and hashing work without revealing, it can be neither
pickled nor serialised, and `redact` scrubs a library's error text."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from quantai_tui.core.secrets import Secret, redact

VALUE = "sk-live-0c4f9a1e7b2d"


def test_every_text_form_hides_the_value_and_shows_its_source() -> None:
    s = Secret(VALUE, "BINANCE_API_SECRET")
    forms = [str(s), repr(s), f"{s}", f"{s:>40}", "%s" % s, "{}".format(s), str([s]), str({"k": s})]  # noqa: UP031
    assert all(VALUE not in text for text in forms)
    assert repr(s) == "Secret('***', from BINANCE_API_SECRET)"
    assert repr(Secret(VALUE)) == "Secret('***')"
    assert s.source == "BINANCE_API_SECRET" and s.reveal() == VALUE


def test_a_logged_secret_is_hidden(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("quantai.test").info("key %s / %r", Secret(VALUE), Secret(VALUE))
    assert VALUE not in caplog.text and "***" in caplog.text


def test_equality_and_hashing_by_value_without_revealing() -> None:
    a, b = Secret(VALUE, "env"), Secret(VALUE, "file")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Secret("other") and a != VALUE  # never equal to the bare string
    assert bool(a) and not Secret("")


def test_it_cannot_be_pickled_or_serialised() -> None:
    s = Secret(VALUE)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)
    with pytest.raises(TypeError, match="cannot be serialised"):
        s.__getstate__()
    with pytest.raises(TypeError):
        json.dumps(s)
    with pytest.raises(TypeError):
        copy.deepcopy(s)


def test_redact_scrubs_values_and_leaves_short_ones_alone() -> None:
    text = f"401: bad signature for key {VALUE} (secret {VALUE}), passphrase hunter2"
    assert redact(text, Secret(VALUE), None, "hunter2") == "401: bad signature for key *** (secret ***), passphrase ***"
    assert redact("order 123 failed", "123", "", None) == "order 123 failed"  # < 4 characters: not a secret
