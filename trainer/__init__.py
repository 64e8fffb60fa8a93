"""streamchat's trainer: import and clean chat logs, train a tokenizer and GPT-2, evaluate, generate.

Nothing here imports `bot`: the bot depends on the trainer, never the other way round.
"""

__version__ = "0.1.0"
