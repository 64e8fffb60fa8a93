"""`evaluate`'s figures as a table for people: bits per char, generation metrics, samples, and
a one-sentence verdict against the baselines."""

from __future__ import annotations

import math
import statistics

# One draw of 1,000 messages moves the realism AUC by about this much (README, "Measured");
# fewer messages move it more (as 1/sqrt(n)), the mean of K draws less (as 1/sqrt(K)).
REALISM_SPREAD_AT_1000 = 0.03
BPC_TIE = 0.01  # bits/char within 1 % of the 5-gram's is a tie


def realism_spread(generation: dict, name: str) -> tuple[float, str]:
    """(how much one draw's realism AUC moves, how that was found): measured between draws when
    there are several, else the README's figure scaled to the number of messages."""
    draws = [v for v in (generation.get(name) or {}).get("realism_auc_draws") or [] if v is not None]
    if len(draws) > 1:
        return statistics.stdev(draws), f"measured over {len(draws)} draws"
    samples = max(1, generation.get("samples") or 1000)
    return REALISM_SPREAD_AT_1000 * math.sqrt(1000 / samples), f"expected for one draw of {samples:,}"


def verdict(result: dict) -> str:
    """One sentence: better or worse than the 5-gram and the Markov bot, beyond the noise or
    not, and what to do next."""
    bpc = result.get("bits_per_char") or {}
    generation = result.get("generation") or {}
    parts, advice = [], []
    if bpc.get("model") is not None and bpc.get("char_5gram"):
        change = bpc["model"] / bpc["char_5gram"] - 1
        if abs(change) < BPC_TIE:
            parts.append(f"the model predicts held-out chat as well as the 5-gram ({change:+.1%})")
        elif change < 0:
            parts.append(f"the model predicts held-out chat {-change:.1%} better than the 5-gram")
        else:
            parts.append(f"the model predicts held-out chat {change:.1%} worse than the 5-gram")
            advice.append("train longer (--max-time) or on more chat")
    model, markov = generation.get("model") or {}, generation.get("markov") or {}
    if model.get("realism_auc") is not None and markov.get("realism_auc") is not None:
        draws = max(1, generation.get("draws") or 1)
        spread = max(realism_spread(generation, "model")[0], realism_spread(generation, "markov")[0])
        noise = spread * math.sqrt(2 / draws)
        gap = model["realism_auc"] - markov["realism_auc"]
        figures = f"realism {model['realism_auc']:.3f} vs {markov['realism_auc']:.3f}"
        if markov.get("real_realism_auc") is not None:
            figures += f"; other real chat {markov['real_realism_auc']:.3f}"
        if abs(gap) <= noise:
            parts.append(f"its messages are as hard to tell from real chat as the Markov bot's ({figures}, "
                         f"within the draw-to-draw noise of ±{noise:.3f})")
            if draws == 1:
                advice.append("use --draws 5 to separate them")
        elif gap < 0:
            parts.append(f"its messages are harder to tell from real chat than the Markov bot's ({figures}, "
                         f"beyond the noise of ±{noise:.3f})")
        else:
            parts.append(f"the Markov bot's messages pass for real chat better ({figures}, beyond the noise "
                         f"of ±{noise:.3f})")
            advice.append("train longer (--max-time) or on more chat")
        invented, real_invented = model.get("invented_rate"), model.get("real_invented_rate")
        if invented is not None and real_invented is not None and invented > real_invented + noise:
            parts.append(f"it invents words in {invented:.0%} of its messages (real chat {real_invented:.0%})")
    if not parts:
        return ""
    sentence = "; ".join(parts)
    advice = list(dict.fromkeys(advice))
    ending = f": {' and '.join(advice)}." if advice else "."
    return f"Verdict: {sentence}{ending}"


def format_report(result: dict) -> str:
    """The figures as a table for people, with the printed samples."""
    bpc = result["bits_per_char"]
    val = result["validation"]
    fmt = lambda f, v: "n/a" if v is None else f.format(v)  # noqa: E731
    lines = [
        f"validation: {val['messages']} messages in {val['streams']} streams, "
        f"{val['novel_share']:.0%} of them never seen in training",
        "bits per char     all messages   novel messages",
    ]
    for name, label in (("model", "model"), ("char_5gram", "char 5-gram")):
        if name in bpc:
            lines.append(f"  {label:<15} {bpc[name]:>10.3f}   {fmt('{:>12.3f}', bpc[name + '_novel'])}")
    if "model_vs_5gram" in bpc:
        lines.append(f"  model vs 5-gram: {bpc['model_vs_5gram']:+.1%}")
    generation = result.get("generation")
    if generation:
        names = [name for name in ("model", "markov") if name in generation]
        rows = [
            ("silent (all filtered)", "silent_rate", None, "{:.1%}"),
            ("empty rate", "empty_rate", None, "{:.1%}"),
            ("one-word rate", "one_word_rate", "real_one_word_rate", "{:.1%}"),
            ("mean words", "mean_words", "real_mean_words", "{:.2f}"),
            ("median words", "median_words", "real_median_words", "{:.1f}"),
            ("words hist. distance", "words_histogram_distance", None, "{:.3f}"),
            ("copies (3+ words)", "copy_rate_3plus", None, "{:.1%}"),
            ("copies (all)", "copy_rate_all", None, "{:.1%}"),
            ("distinct-1", "distinct_1", "real_distinct_1", "{:.3f}"),
            ("distinct-2", "distinct_2", "real_distinct_2", "{:.3f}"),
            ("emote rate", "emote_rate", "real_emote_rate", "{:.1%}"),
            ("invented words", "invented_rate", "real_invented_rate", "{:.1%}"),
            # "real": other real messages of the same streams against these, the floor of the AUC
            ("realism AUC", "realism_auc", "real_realism_auc", "{:.3f}"),
        ]
        header = "".join(f"{name:>10}" for name in names + ["real"])
        draws = generation.get("draws", 1)
        title = f"generation, {generation['samples']} messages each" + (f", mean of {draws} draws" if draws > 1 else "")
        lines.append(f"{title:<33}{header}")
        for label, key, real_key, f in rows:
            cells = "".join(f"{fmt(f, generation[name].get(key)):>10}" for name in names)
            real = fmt(f, generation[names[0]].get(real_key)) if real_key else ""
            lines.append(f"  {label:<31}{cells}{real:>10}")
        if draws > 1:
            for name in names:
                each = " / ".join(f"{v:.3f}" for v in generation[name]["realism_auc_draws"] if v is not None)
                lines.append(f"  realism AUC of each draw, {name}: {each}")
        spread, how = realism_spread(generation, names[0])
        lines.append(f"  realism AUC moves by about ±{spread:.3f} from draw to draw ({how})")
    for i, example in enumerate(result.get("examples", []), 1):
        lines.append(f"--- sample {i}: ... {' | '.join(example['context'])}")
        for name in ("real", "model", "markov"):
            if name in example:
                lines.append(f"    {name + ':':<8}{example[name]}")
    if result.get("verdict"):
        lines.append(result["verdict"])
    return "\n".join(lines)
