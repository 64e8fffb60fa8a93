"""The on-disk contract that trainer and bot share: the corpus record, the privacy policy of
collected chat, and the fingerprints of training messages."""
