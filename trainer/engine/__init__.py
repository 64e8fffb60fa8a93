"""The generation engine: a checkpoint in, chat messages that are safe to post out (sampling,
the filter chain, `Generator`)."""
