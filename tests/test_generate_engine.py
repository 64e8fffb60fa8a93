"""The generation engine: the sampler, the Generator on real checkpoints, bad input, the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from trainer.errors import StreamchatError
from trainer.corpus.fingerprints import FINGERPRINT_FILE, FingerprintSet
from trainer.engine.generate import Generator, SamplingSettings
from trainer.engine.safety import FilterChain
from trainer.engine.sampling import LeanGPT2, sample

REPO = Path(__file__).resolve().parents[1]
EOS = "<|endoftext|>"
LINES = ["hello chat", "KEKW that was close", "gg wp", "LUL LUL LUL", "what is this game", "PogChamp nice one",
         "no way", "the chat is so good today", "i think he will win this one"]
CONTEXT = ["gg wp", "KEKW", "KEKW", "that was close", "no way he did that"]

BAD_PROMPTS = [
    "x" * 10_000,
    " ".join(f"word{i}" for i in range(2_000)) + " zebra",
    "",
    "   \t  ",
    "🙂🙂🙂😂😂",
    "\u200b\u200c\u200d\u2060\ufeff",
    "bidi \u202eevil\u202c text \u2066x\u2069",
    "nul\x00 and \x07 bell \x1b[31m",
    "日本語 и русский and English مرحبا",
    "/ban x",
    ".color red",
    "!chat !chat",
    "／ban ｘ",
    "@a @b @c @d @e",
    "http://x.com https://y.org bit.ly/z www.w",
    "@someone look at example.com",
    "kill yourself",
    "n1gg3r",
]


def build_tokenizer(lines=LINES):
    """A small byte-level BPE with the streamchat boundary, as the real tokenizer is shaped."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines * 10, trainers.BpeTrainer(
        vocab_size=400, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS)


def build_model(tokenizer, n_positions=64, seed=0, n_layer=1):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=32, n_layer=n_layer, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory, tokenizer) -> Path:
    """A complete streamchat checkpoint around a randomly initialised GPT-2 (fast to make)."""
    from trainer.model.checkpoint import save_checkpoint

    out = tmp_path_factory.mktemp("random") / "model"
    return save_checkpoint(build_model(tokenizer), tokenizer, {"block_size": 64, "preset": "test"}, out,
                           FingerprintSet.from_texts(LINES))


def assert_postable(gen: Generator, text, allow_mention=None):
    """None, or a message a fresh filter chain with the checkpoint's fingerprints accepts."""
    if text is None:
        return
    assert isinstance(text, str) and text.strip(), repr(text)
    assert len(text) <= 500
    assert text.lstrip()[0] not in "/.!", text
    fresh = FilterChain(fingerprints=gen.filters.fingerprints, max_words=gen.settings.max_words)
    assert fresh.check(text, allow_mention=allow_mention) is None, (text, fresh.check(text, allow_mention=allow_mention))


# -- the sampler ---------------------------------------------------------------------------------


def test_sampler_returns_k_rows_stopped_at_the_boundary(tokenizer):
    model = build_model(tokenizer)
    eos = tokenizer.eos_token_id
    prefix = [eos] + tokenizer("hello chat")["input_ids"] + [eos]
    out = sample(model, prefix, boundary_id=eos, num=8, max_new_tokens=16, temperature=1.0, top_p=0.95,
                 top_k=50, repetition_penalty=1.1, generator=torch.Generator().manual_seed(0))
    assert len(out.tokens) == len(out.logprobs) == len(out.finished) == 8
    for row, tokens in enumerate(out.tokens):
        assert 1 <= len(tokens) <= 16 and eos not in tokens
        assert out.finished[row] or len(tokens) == 16
        assert out.logprobs[row] < 0 and math.isfinite(out.mean_logprob(row))


def _eos_loving_model(tokenizer):
    """A real GPT-2 whose every prediction is the boundary (final layer norm emits a constant
    vector that matches the boundary's embedding)."""
    model = build_model(tokenizer)
    with torch.no_grad():
        direction = torch.randn(model.config.n_embd)
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(direction)
        model.transformer.wte.weight[tokenizer.eos_token_id] = direction * 50
    return model


@pytest.mark.parametrize("spread", [1.0, 6.0])  # a flat and a peaked distribution
def test_top_p_alone_draws_from_the_exact_nucleus(spread):
    from trainer.engine.sampling import _pick

    torch.manual_seed(0)
    vocab = 2000
    scores = torch.randn(4, vocab) * spread
    probs = scores.softmax(-1)
    ordered, order = probs.sort(dim=-1, descending=True)
    keep = (ordered.cumsum(-1) - ordered) < 0.9  # the nucleus, by a full sort
    assert (int(keep[0].sum()) > 200) == (spread == 1.0)
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([_pick(scores, 0, 0.9, generator) for _ in range(3000)])  # (3000, 4)
    for row in range(4):
        nucleus = set(order[row][keep[row]].tolist())
        assert set(draws[:, row].tolist()) <= nucleus
    # the likeliest token is drawn about as often as its share of the nucleus
    best_share = float(ordered[0, 0] / ordered[0][keep[0]].sum())
    drawn_share = float((draws[:, 0] == order[0, 0]).float().mean())
    assert abs(drawn_share - best_share) < 0.05


def test_sampler_never_ends_with_nothing_added(tokenizer):
    model = _eos_loving_model(tokenizer)
    eos = tokenizer.eos_token_id
    out = sample(model, [eos, 5, 6], boundary_id=eos, num=4, max_new_tokens=10, temperature=1.0)
    assert all(len(t) == 1 for t in out.tokens)  # one token forced, then the (certain) boundary
    assert all(out.finished)
    out = sample(model, [eos, 5, 6], boundary_id=eos, num=4, max_new_tokens=10, min_new_tokens=3)
    assert all(len(t) == 3 for t in out.tokens)


def test_sampler_greedy_and_seeded_are_deterministic(tokenizer):
    model = build_model(tokenizer)
    eos = tokenizer.eos_token_id
    greedy = sample(model, [eos, 7], boundary_id=eos, num=3, max_new_tokens=8, temperature=0)
    assert greedy.tokens[0] == greedy.tokens[1] == greedy.tokens[2]
    top1 = sample(model, [eos, 7], boundary_id=eos, num=2, max_new_tokens=8, temperature=1.0, top_k=1)
    assert top1.tokens[0] == greedy.tokens[0]
    a = sample(model, [eos, 7], boundary_id=eos, num=4, max_new_tokens=8, generator=torch.Generator().manual_seed(3))
    b = sample(model, [eos, 7], boundary_id=eos, num=4, max_new_tokens=8, generator=torch.Generator().manual_seed(3))
    assert a.tokens == b.tokens


def test_sampler_fits_the_window(tokenizer):
    model = build_model(tokenizer, n_positions=16)
    eos = tokenizer.eos_token_id
    out = sample(model, [eos] * 12, boundary_id=eos, num=2, max_new_tokens=32, temperature=1.0, min_new_tokens=32)
    assert all(len(t) == 4 for t in out.tokens)
    with pytest.raises(ValueError):
        sample(model, [eos] * 16, boundary_id=eos, num=2)


def test_lean_forward_matches_transformers(tokenizer):
    for m in (build_model(tokenizer), build_model(tokenizer, n_layer=3, seed=1)):
        ids = [tokenizer.eos_token_id] + tokenizer("hello chat gg wp")["input_ids"]
        with torch.inference_mode():
            reference = m(torch.tensor([ids + [11, 12]])).logits[0]
            lean = LeanGPT2(m, batch=3, length=len(ids) + 2)
            first = lean.forward(torch.tensor([ids]))
            lean.repeat_first_row(3)
            second = lean.forward(torch.tensor([[11]] * 3))
            third = lean.forward(torch.tensor([[12]] * 3))
        torch.testing.assert_close(first[0], reference[len(ids) - 1], atol=1e-5, rtol=1e-5)
        for row in range(3):
            torch.testing.assert_close(second[row], reference[len(ids)], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(third[row], reference[len(ids) + 1], atol=1e-5, rtol=1e-5)


def test_lean_and_transformers_cache_paths_sample_the_same(tokenizer):
    model = build_model(tokenizer)
    eos = tokenizer.eos_token_id
    runs = [sample(model, [eos, 7, 8], boundary_id=eos, num=4, max_new_tokens=12, temperature=0.9, top_p=0.9,
                   top_k=20, repetition_penalty=1.2, penalty_ids=[7], generator=torch.Generator().manual_seed(9),
                   lean=lean) for lean in (True, False)]
    assert runs[0].tokens == runs[1].tokens and runs[0].finished == runs[1].finished
    assert runs[0].logprobs == pytest.approx(runs[1].logprobs, abs=1e-4)


# -- the Generator -------------------------------------------------------------------------------


def test_generator_batch_gives_k_candidates(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=1)
    assert len(gen.candidates("hello", CONTEXT)) == 8
    gen.settings.candidates = 3  # settings change at run time
    candidates = gen.candidates("hello", CONTEXT)
    assert len(candidates) == 3
    for c in candidates:
        assert c.text.startswith("hello") and c.score < 0
        assert c.rejected is None or isinstance(c.rejected, str)


def test_pick_among_safe_candidates(random_checkpoint):
    """Uniform by default (the model's own distribution), finished candidates first; a finite
    choice temperature favours the likelier, 0 takes the best."""
    from collections import Counter

    from trainer.engine.generate import Candidate

    pool = [Candidate("likely", -0.5, True, None), Candidate("unlikely", -4.0, True, None),
            Candidate("cut off", -0.1, False, None)]
    gen = Generator.load(random_checkpoint, seed=8)
    picks = Counter(gen._choose(pool).text for _ in range(2000))
    assert set(picks) == {"likely", "unlikely"}  # never the one cut at max_new_tokens
    assert abs(picks["likely"] - 1000) < 120  # 50/50, with 4.5 standard deviations of room
    gen.settings.choice_temperature = 1.0
    picks = Counter(gen._choose(pool).text for _ in range(2000))
    assert picks["unlikely"] < 100  # weight e^-3.5 ~ 3 %
    gen.settings.choice_temperature = 0
    assert {gen._choose(pool).text for _ in range(20)} == {"likely"}
    assert gen._choose(pool[2:]).text == "cut off"  # no finished candidate: take what there is
    with pytest.raises(StreamchatError, match="choice_temperature"):
        SamplingSettings(choice_temperature=float("nan")).validate()


@pytest.mark.parametrize("prompt", BAD_PROMPTS, ids=range(len(BAD_PROMPTS)))
def test_bad_prompts_never_raise_and_outputs_pass_the_filters(random_checkpoint, prompt):
    gen = Generator.load(random_checkpoint, seed=2)
    for allow in (None, "someone"):
        text = gen.complete(prompt, CONTEXT + [prompt], allow_mention=allow)
        assert_postable(gen, text, allow_mention=allow)
    assert_postable(gen, gen.message([prompt] * 3))
    assert gen.filters.counts["error"] == 0


def test_command_prompts_are_echoed_without_the_command_character(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=3)
    for prompt, start in [("/ban x", "ban x"), (".color red", "color red"), ("!chat !chat", "chat !chat")]:
        text = gen.complete(prompt)
        assert text is not None and text.startswith(start), text


def test_long_prompt_keeps_its_end(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=4)
    prompt = " ".join(f"w{i}" for i in range(3_000)) + " zebra"
    text = gen.complete(prompt, CONTEXT)
    assert text is not None and len(text) <= 500
    assert "zebra" in text and "w0 " not in text


def test_none_when_every_candidate_is_rejected(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=5, attempts=2)
    # A filter that refuses every candidate: a length limit the prompt alone reaches.
    gen.filters.max_chars = 5
    assert gen.complete("hello") is None
    assert gen.filters.counts["too_long"] == 2 * 8  # two rounds of eight
    gen.filters.max_chars = 500
    assert gen.complete("hello") is not None  # and the engine carries on
    # A prompt with a banned word is refused before sampling: a continuation glued to its
    # last word ("yourselfX") must not hide it from the whole-word match.
    assert gen.complete("go k1ll   yourself") is None
    assert gen.complete("visit lol dot gg") is None  # a link the cleaner does not know


def test_training_copies_and_own_repeats_are_refused(random_checkpoint):
    gen = Generator.load(random_checkpoint, temperature=0, attempts=1)  # greedy: same text each call
    text = gen.complete("one two three", channel="a")
    assert text is not None and len(text.split()) >= 3
    assert gen.complete("one two three", channel="a") is None  # the bot's own last message
    assert gen.filters.counts["repeat"] == 8
    gen.filters.fingerprints = FingerprintSet.from_texts([text])  # now it is a training message
    assert gen.complete("one two three", channel="b") is None
    assert gen.filters.counts["training_copy"] == 8


def test_banned_words_added_at_run_time(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=6, extra_banned_words=["zebra"])
    assert gen.complete("zebra") is None
    gen.filters.remove_banned_word("zebra")
    assert gen.complete("zebra") is not None


def test_one_caller_at_a_time(random_checkpoint):
    gen = Generator.load(random_checkpoint, seed=7)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(gen.message(CONTEXT))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and gen.filters.counts["error"] == 0


def test_bad_settings_are_refused(random_checkpoint):
    with pytest.raises(StreamchatError, match="top_p"):
        Generator.load(random_checkpoint, top_p=0)
    with pytest.raises(StreamchatError, match="unknown sampling settings: tempreature"):
        Generator.load(random_checkpoint, tempreature=1.0)
    with pytest.raises(StreamchatError, match="candidates"):
        SamplingSettings(candidates=0).validate()


def test_broken_checkpoints_get_clear_errors(random_checkpoint, tmp_path):
    import shutil

    with pytest.raises(StreamchatError, match="no model at"):
        Generator.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StreamchatError, match="streamchat"):
        Generator.load(tmp_path / "empty")

    def copy(name):
        target = tmp_path / name
        shutil.copytree(random_checkpoint, target)
        return target

    partial = copy("partial")
    (partial / "model.safetensors").unlink()
    with pytest.raises(StreamchatError, match="model.safetensors"):
        Generator.load(partial)
    no_tokenizer = copy("no_tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(StreamchatError, match="tokenizer"):
        Generator.load(no_tokenizer)
    no_hashes = copy("no_hashes")
    (no_hashes / FINGERPRINT_FILE).unlink()
    with pytest.raises(StreamchatError, match=FINGERPRINT_FILE):
        Generator.load(no_hashes)
    foreign = copy("foreign")
    (foreign / "streamchat.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StreamchatError, match="not a streamchat checkpoint"):
        Generator.load(foreign)
    corrupt = copy("corrupt")
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(StreamchatError, match="cannot load the model"):
        Generator.load(corrupt)


# -- a trained tiny model, through the real path --------------------------------------------------


@pytest.mark.slow
def test_tiny_trained_model_generates_chat(tiny_checkpoint):
    gen = Generator.load(tiny_checkpoint, seed=8)
    assert gen.card["format"] == "streamchat-checkpoint"
    completions = [gen.complete("the chat is", CONTEXT, channel="c") for _ in range(5)]
    messages = [gen.message(CONTEXT, channel="c") for _ in range(5)]
    for text in completions:
        assert text is None or text.startswith("the chat is")
        assert_postable(gen, text)
    for text in messages:
        assert_postable(gen, text)
    produced = [t for t in completions + messages if t]
    assert len(produced) >= 8  # a trained model mostly yields postable chat
    assert len(set(produced)) == len(produced)  # never the same message twice in a channel
    candidates = gen.candidates("the chat is", CONTEXT)
    assert len(candidates) == 8 and sum(c.finished for c in candidates) >= 4  # it learned where messages end


@pytest.mark.slow
def test_tiny_checkpoint_hashes_refuse_training_copies(tiny_checkpoint):
    from trainer.corpus.records import TRAIN_FILE, read_records

    gen = Generator.load(tiny_checkpoint)
    assert len(gen.filters.fingerprints) > 100
    train = [r.text for r in read_records(tiny_checkpoint.parent / "data" / TRAIN_FILE)]  # where the fixture prepared it
    long_ones = [t for t in train if len(t.split()) >= 3 and FilterChain().check(t) is None]
    short_ones = [t for t in train if len(t.split()) < 3 and FilterChain().check(t) is None]
    assert long_ones and short_ones
    for text in long_ones[:20]:
        assert gen.filters.check(text) == "training_copy", text
    for text in short_ones[:20]:
        assert gen.filters.check(text) is None, text


# -- the command line ----------------------------------------------------------------------------


def _cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "trainer", "generate", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_generate(random_checkpoint, tmp_path):
    context = tmp_path / "context.txt"
    context.write_text("\n".join(CONTEXT) + "\n", encoding="utf-8")
    out = _cli(random_checkpoint, "--prompt", "hello", "--context", context, "-n", "3", "--json", "--seed", "1",
               "--temperature", "0.8", "--top-k", "20")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert len(results) == 3 and all(r is None or r.startswith("hello") for r in results)
    out = _cli(random_checkpoint, "-n", "2")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 2
    out = _cli(tmp_path / "nothing-here")
    assert out.returncode == 2 and "error: no model at" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_low_temperature_still_answers(tiny_checkpoint):
    """At temperature 0.5 the demo model's likeliest replies to `hello` are training messages,
    which the copy rule refuses; rounds after a fully refused one warm up towards 1, so the
    viewer still gets an answer (without it a third of these calls came back empty)."""
    gen = Generator.load(tiny_checkpoint, seed=3)
    gen.settings.temperature = 0.5
    replies = [gen.complete("hello", channel=f"viewer-{i}") for i in range(40)]
    assert all(r is not None and r.startswith("hello ") for r in replies), replies
    assert gen.filters.counts["training_copy"] > 0  # the situation the warming is for
    assert [gen._round_temperature(a) for a in range(4)] == [0.5, 0.75, 1.0, 1.0]
    gen.settings.temperature = 1.3  # above 1: every round at the setting
    assert {gen._round_temperature(a) for a in range(3)} == {1.3}
