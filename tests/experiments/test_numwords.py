"""Chapter 2's number-words task (E4b): the words really follow each language's rules, the data has the right
shapes, and the attention model trains on it."""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.experiments import data, models, numwords

SETUP = numwords.NumberWordsSetup()


def _units_stem(n: int) -> str:
    """German units word as it appears inside a compound: 'eins' becomes 'ein' ('einundzwanzig')."""
    return numwords.words(n, "de").removesuffix("s") if n == 1 else numwords.words(n, "de")


@pytest.mark.parametrize("n", numwords.compound_numbers(SETUP))
def test_german_writes_the_units_before_the_tens(n):
    assert numwords.words(n, "de") == _units_stem(n % 10) + "und" + numwords.words(10 * (n // 10), "de")


@pytest.mark.parametrize("n", numwords.compound_numbers(SETUP))
def test_english_writes_the_tens_before_the_units(n):
    assert numwords.words(n, "en") == numwords.words(10 * (n // 10), "en") + "-" + numwords.words(n % 10, "en")


def test_french_counts_in_twenties_from_sixty():
    assert numwords.words(97, "fr") == "quatre-vingt-dix-sept"          # 4 x 20 + 17
    assert numwords.words(71, "fr") == "soixante et onze"               # 60 + 11
    assert numwords.words(80, "fr") == "quatre-vingts"
    for n in range(70, 80):
        assert numwords.words(n, "fr").startswith("soixante")
        assert numwords.words(n, "fr").endswith(numwords.words(n - 60, "fr"))
    for n in range(81, 100):
        assert numwords.words(n, "fr") == "quatre-vingt-" + numwords.words(n - 80, "fr")


def test_vocabulary_round_trips_words_and_digits_with_distinct_ids():
    vocab = numwords.vocabulary(SETUP)
    for text in ("siebenundneunzig", "quatre-vingt-dix-sept", "soixante et onze", "dreißig", "97"):
        ids = vocab.encode(text)
        assert min(ids) >= data.FIRST_SYMBOL and max(ids) < len(vocab)
        assert vocab.decode(ids) == text
    assert len(set(vocab.ids.values())) == len(vocab.symbols) == len(vocab) - data.FIRST_SYMBOL
    assert vocab.decode([data.BOS] + vocab.encode("42") + [data.EOS, data.PAD]) == "42"


def test_split_holds_out_only_compound_numbers_and_covers_every_number_once():
    train, test = numwords.split(SETUP)
    assert not set(train) & set(test)
    assert sorted(train + test) == list(range(SETUP.low, SETUP.high + 1))
    assert set(test) <= set(numwords.compound_numbers(SETUP))
    assert len(test) == round(SETUP.test_fraction * len(numwords.compound_numbers(SETUP)))
    assert numwords.split(SETUP) == (train, test)                       # the same numbers every time
    assert set(range(1, 21)) | set(range(30, 100, 10)) <= set(train)


def test_pairs_map_the_characters_of_the_words_to_the_digits():
    vocab = numwords.vocabulary(SETUP)
    got = numwords.pairs([97, 5], vocab)
    assert len(got) == 2 * len(numwords.LANGUAGES)
    assert [vocab.decode(t) for _, t in got] == ["97", "5"] * 3
    assert vocab.decode(got[2][0]) == "siebenundneunzig"
    batch = data.make_batch(got)
    assert batch["src"].shape == (6, len("quatre-vingt-dix-sept"))
    assert batch["tgt_in"].shape == batch["tgt_out"].shape == (6, 3)    # BOS + two digits; two digits + EOS


def test_attention_centres_are_the_weighted_mean_positions():
    weights = torch.tensor([[[0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0]]])   # (1 number, 2 steps, 4 chars)
    assert numwords.attention_centres(weights).tolist() == [[2.0, 0.5]]


def test_a_tiny_training_run_is_cached_and_its_model_predicts_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    setup = numwords.NumberWordsSetup(steps=3, batch_size=8, hidden=16, emb_dim=8)
    model, losses = numwords.trained_model(setup)
    assert isinstance(model, models.Seq2Seq) and model.attention and len(losses) == 3
    assert all(math.isfinite(x) for x in losses)
    again, cached = numwords.trained_model(setup)
    assert cached == losses and len(list(tmp_path.iterdir())) == 1
    vocab = numwords.vocabulary(setup)
    predicted, weights = numwords.predict(model, [7, 97], "fr", vocab)
    assert len(predicted) == 2 and weights.shape == (2, 3, len("quatre-vingt-dix-sept"))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    assert set(numwords.exact_match(model, [7, 97], vocab)) == set(numwords.LANGUAGES)
    rate, count = numwords.crossing_rate(model, [97], "de", vocab)
    assert count in (0, 1) and (math.isnan(rate) if count == 0 else rate in (0.0, 1.0))
