"""Number words to digits in English, German and French (chapter 2, E4b): a task whose alignment comes from language.

"ninety-seven", "siebenundneunzig" and "quatre-vingt-dix-sept" all become the digits "97". English writes the
tens before the units, German the units before the tens ("sieben und neunzig", seven and ninety), French
counts from sixty in twenties ("quatre-vingt-dix-sept", four twenties, ten, seven). The words come from the
`num2words` package. Both sides are character sequences; the model is chapter 2's `models.Seq2Seq`.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass

import numpy as np
import torch
from num2words import num2words

from . import data, models, training

LANGUAGES = ("en", "de", "fr")
DIGITS = "0123456789"


@dataclass(frozen=True)
class NumberWordsSetup:
    """Everything that defines one number-words experiment: the numbers, the held-out split, model and budget."""

    low: int = 1
    high: int = 99
    test_fraction: float = 0.25     # of the compound numbers (21-99, not multiples of ten)
    split_seed: int = 0          # which numbers are held out (the same for every training seed)
    emb_dim: int = 32
    hidden: int = 64
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


def words(n: int, lang: str) -> str:
    """Return the number `n` written in words in `lang` ("en", "de" or "fr"), as `num2words` writes it."""
    return num2words(n, lang=lang)


class Vocabulary:
    """Token ids for the characters of the number words and for the ten digits (after the special tokens)."""

    def __init__(self, characters: str):
        self.symbols = sorted(set(characters)) + list(DIGITS)
        self.ids = {symbol: data.FIRST_SYMBOL + i for i, symbol in enumerate(self.symbols)}

    def __len__(self) -> int:
        return data.FIRST_SYMBOL + len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Return the token ids of the characters of `text` (digits included)."""
        return [self.ids[ch] for ch in text]

    def decode(self, ids: list[int]) -> str:
        """Return the text of token ids (special tokens dropped)."""
        return "".join(self.symbols[i - data.FIRST_SYMBOL] for i in ids if i >= data.FIRST_SYMBOL)


def vocabulary(setup: NumberWordsSetup) -> Vocabulary:
    """Return the vocabulary of every character used by the three languages for the setup's numbers."""
    return Vocabulary("".join(words(n, lang) for n in range(setup.low, setup.high + 1) for lang in LANGUAGES))


def compound_numbers(setup: NumberWordsSetup) -> list[int]:
    """Return the setup's numbers from 21 to 99 that are not multiples of ten: those written as a tens word and a
    units word ("ninety-seven", "siebenundneunzig", "quatre-vingt-dix-sept")."""
    return [n for n in range(max(setup.low, 21), min(setup.high, 99) + 1) if n % 10]


def split(setup: NumberWordsSetup) -> tuple[list[int], list[int]]:
    """Return (training numbers, held-out numbers); a held-out number is never seen in any language.

    Only compound numbers are held out, so every held-out number is a new combination of words seen in training
    (1 to 20 and the tens are single words that no model could guess, and always stay in training).
    """
    compound = compound_numbers(setup)
    order = np.random.default_rng(setup.split_seed).permutation(compound)
    held_out = set(order[: round(setup.test_fraction * len(compound))].tolist())
    return ([n for n in range(setup.low, setup.high + 1) if n not in held_out], sorted(held_out))


def pairs(numbers: list[int], vocab: Vocabulary, languages: tuple[str, ...] = LANGUAGES
          ) -> list[tuple[list[int], list[int]]]:
    """Return (characters of the words, digits) token pairs for every number in every language."""
    return [(vocab.encode(words(n, lang)), vocab.encode(str(n))) for lang in languages for n in numbers]


def trained_model(setup: NumberWordsSetup) -> tuple[models.Seq2Seq, list[float]]:
    """Return chapter 2's attention model trained on the setup's training numbers in all three languages, and
    its loss per step; cached on disk."""
    rng = training.seed_everything(setup.seed)
    vocab = vocabulary(setup)
    model = models.Seq2Seq(len(vocab), setup.emb_dim, setup.hidden, attention=True)
    train = pairs(split(setup)[0], vocab)

    def batches():
        for _ in range(setup.steps):
            yield data.make_batch([train[i] for i in rng.integers(len(train), size=setup.batch_size)])

    code = "".join(inspect.getsource(m) for m in (models, data)) + inspect.getsource(training.fit) \
        + inspect.getsource(inspect.getmodule(trained_model))
    return training.cached_training("numwords", repr(asdict(setup)) + code, model,
                                    lambda: training.fit(model, batches(), setup.lr))


def predict(model: models.Seq2Seq, numbers: list[int], lang: str, vocab: Vocabulary
            ) -> tuple[list[str], torch.Tensor]:
    """Greedy-decode the words of `numbers` in `lang`; return the digit strings and the weights (N, 4, S)."""
    src = data.pad_batch([vocab.encode(words(n, lang)) for n in numbers])
    tokens, weights = model.generate(src, max_len=len(str(max(numbers))) + 1)
    return [vocab.decode(t) for t in tokens], weights


def exact_match(model: models.Seq2Seq, numbers: list[int], vocab: Vocabulary) -> dict[str, float]:
    """Return, for each language, the fraction of `numbers` whose digits the model writes exactly."""
    return {lang: float(np.mean([p == str(n) for p, n in zip(predict(model, numbers, lang, vocab)[0], numbers)]))
            for lang in LANGUAGES}


def attention_centres(weights: torch.Tensor) -> np.ndarray:
    """Return the weighted mean input position sum_j alpha_ij * j (0-based) of each output step, shape (N, steps).

    `weights` (N, steps, S) are attention weights, 0 on padding. Comparing the centre of the step that writes the
    tens digit with that of the step that writes the units digit tells whether the alignment runs forwards (the
    tens read first) or crosses (the tens read after the units).
    """
    return (weights * torch.arange(weights.shape[-1], dtype=weights.dtype)).sum(-1).numpy()


def crossing_rate(model: models.Seq2Seq, numbers: list[int], lang: str, vocab: Vocabulary) -> tuple[float, int]:
    """Return (fraction of crossed alignments, how many were read) over the two-digit `numbers` written correctly.

    An alignment is crossed when the step that writes the tens digit reads, on average, a later input position
    than the step that writes the units digit. The fraction is NaN when no number was written correctly.
    """
    predicted, weights = predict(model, numbers, lang, vocab)
    correct = [i for i, (p, n) in enumerate(zip(predicted, numbers)) if p == str(n) and 10 <= n <= 99]
    if not correct:
        return float("nan"), 0
    centres = attention_centres(weights[correct])
    return float(np.mean(centres[:, 0] > centres[:, 1])), len(correct)
