"""`evaluate`'s figures as a table for people: bits per char, generation metrics, samples."""

from __future__ import annotations


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
            ("realism AUC", "realism_auc", None, "{:.3f}"),
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
                values = [v for v in generation[name]["realism_auc_draws"] if v is not None]
                each = " / ".join(f"{v:.3f}" for v in values)
                spread = f" (spread {max(values) - min(values):.3f})" if values else ""
                lines.append(f"  realism AUC of each draw, {name}: {each}{spread}")
    for i, example in enumerate(result.get("examples", []), 1):
        lines.append(f"--- sample {i}: ... {' | '.join(example['context'])}")
        for name in ("real", "model", "markov"):
            if name in example:
                lines.append(f"    {name + ':':<8}{example[name]}")
    return "\n".join(lines)
