"""`evaluate --plot`: an evaluation's figures as one picture (eval.png).

Three panels: held-out bits per character of the model against the character 5-gram (all
messages and those never seen in training); realism AUC and the invented-word rate of the
model against the word Markov chain and real chat; words per message of the model, the chain
and real chat.
"""

from __future__ import annotations

from pathlib import Path

COLOURS = {"model": "tab:blue", "markov": "tab:orange", "char_5gram": "tab:orange", "real": "tab:green"}
LABELS = {"model": "model", "markov": "Markov chain", "char_5gram": "character 5-gram", "real": "real chat"}


def plot_evaluation(result: dict, out_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    generation = result.get("generation") or {}
    figure, (bpc_axis, real_axis, words_axis) = plt.subplots(1, 3, figsize=(14, 4.2))

    bpc = result.get("bits_per_char") or {}
    groups = [("all messages", ""), ("never seen in training", "_novel")]
    names = [name for name in ("model", "char_5gram") if bpc.get(name) is not None]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [bpc.get(name + suffix) or 0.0 for _, suffix in groups]
        bars = bpc_axis.bar(np.arange(len(groups)) + i * width, values, width, color=COLOURS[name], label=LABELS[name])
        bpc_axis.bar_label(bars, fmt="%.3f", fontsize=8)
    bpc_axis.set_xticks(np.arange(len(groups)) + width * (len(names) - 1) / 2, [g for g, _ in groups])
    bpc_axis.set_ylabel("bits per character (lower is better)")
    bpc_axis.set_title("held-out chat")
    bpc_axis.legend(fontsize=8)

    # real chat's own realism: other real messages against the real ones (0.5 in evaluations
    # made before that was measured)
    measures = [("realism AUC", "realism_auc", "real_realism_auc"),
                ("invented-word rate", "invented_rate", "real_invented_rate")]
    shown = [(label, key, real) for label, key, real in measures
             if any((generation.get(n) or {}).get(key) is not None for n in ("model", "markov"))]
    for j, (label, key, real) in enumerate(shown):
        values = {name: (generation.get(name) or {}).get(key) for name in ("model", "markov")}
        values["real"] = next((generation[n][real] for n in ("model", "markov")
                               if (generation.get(n) or {}).get(real) is not None), 0.5 if key == "realism_auc" else None)
        for i, name in enumerate(("model", "markov", "real")):
            if values[name] is None:
                continue
            bars = real_axis.bar(j + (i - 1) * 0.27, values[name], 0.27, color=COLOURS[name],
                                 label=LABELS[name] if j == 0 else None)
            real_axis.bar_label(bars, fmt="%.3f", fontsize=8)
    real_axis.set_xticks(range(len(shown)), [label for label, _, _ in shown])
    real_axis.set_title("generated messages (closer to real chat is better)")
    real_axis.legend(fontsize=8)

    histograms = generation.get("words_histograms") or {}
    bins = np.arange(len(next(iter(histograms.values()), [])))
    for i, name in enumerate(n for n in ("model", "markov", "real") if n in histograms):
        words_axis.bar(bins + (i - 1) * 0.27, histograms[name], 0.27, color=COLOURS[name], label=LABELS[name])
    if len(bins):
        words_axis.set_xticks(bins, [str(b) for b in bins[:-1]] + [f"{bins[-1]}+"])
    words_axis.set_xlabel("words per message")
    words_axis.set_ylabel("share of messages")
    words_axis.set_title("message lengths")
    words_axis.legend(fontsize=8)

    figure.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=100)
    plt.close(figure)
    return out_path
