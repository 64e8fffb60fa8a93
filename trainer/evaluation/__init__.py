"""How good a model is: held-out bits per character against a character n-gram, and its messages
against real chat and a Markov-chain bot."""
