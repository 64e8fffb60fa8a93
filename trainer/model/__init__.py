"""The model and its training: tokenizer, chat format, presets, packed blocks, optimizer,
`train` and the checkpoint folder."""
